package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
)

// DefaultHooksEndpoint is where the hook endpoint listens unless configured
// otherwise: loopback only, next to the OTLP ports.
const DefaultHooksEndpoint = "127.0.0.1:4320"

// HooksConfig configures the hook endpoint: the HTTP server Copilot CLI hook
// payloads are posted to (by the otelcol-copilot-hook forwarder, or any
// client), and the live usage query. It is on when the `hooks` key is
// present.
type HooksConfig struct {
	// ServerConfig is the HTTP server: endpoint, tls, auth, cors,
	// max_request_body_size, timeouts. CORS is off unless configured.
	confighttp.ServerConfig `mapstructure:",squash"`

	// UsageQuery serves GET /v1/sessions and /v1/sessions/{id}/usage.
	UsageQuery bool `mapstructure:"usage_query"`

	// Chargeback attributes and prices what the usage query answers, in
	// the chargeback processor's configuration shape and with its code:
	// give it the processor's attribution and pricing blocks (a YAML
	// anchor shares them) so that a status bar shows what the dashboards
	// show. Default: the processor's defaults (the ticket from the
	// branch, AI credits at US$0.01).
	Chargeback chargeback.Config `mapstructure:"chargeback"`

	// AllowedHosts are the names, besides localhost, 127.0.0.1 and [::1]
	// with the port the endpoint listens on, that requests may carry in
	// their Host header: "name" (any port) or "name:port". A request for
	// another name is refused, so that a web page whose name was made to
	// resolve to this machine (DNS rebinding) can neither post payloads nor
	// read the usage query. Empty, an endpoint beyond loopback (a central
	// collector, which requires hooks.auth) answers to any name.
	AllowedHosts []string `mapstructure:"allowed_hosts"`

	// DedupEntries is how many payloads are remembered in memory with
	// their facts and the pipelines that took them, so that a payload a
	// forwarder sends again (it timed out waiting for the answer, or got a
	// 503) is counted once. Which pipelines took each of a session's last
	// payloads is also kept in storage (session.HookPayloadsKept), for a
	// payload sent again after a restart.
	DedupEntries int `mapstructure:"dedup_entries"`

	// MaxSessions bounds the sessions whose hook state (open tool calls,
	// usage seen) is kept in memory; the least recently seen are dropped
	// first, their usage and last payloads delivered stay in storage.
	MaxSessions int `mapstructure:"max_sessions"`

	// RetryAfter is what a 503 answer tells the client to wait.
	RetryAfter time.Duration `mapstructure:"retry_after"`

	// Accounting says where a session's usage, sessions and tool calls are
	// counted from: "auto" (from its transcript when the receiver reads
	// it, else from its hooks), "transcript" (always from transcripts:
	// hooks add only what transcripts lack) or "hooks" (always from hooks,
	// for a collector that reads no transcripts).
	Accounting string `mapstructure:"accounting"`

	// Peers, when set, makes this endpoint one replica of a tier: each
	// session is owned by one replica, and a payload or usage query of a
	// session another replica owns is passed to it (hooks_peers.go).
	Peers *PeersConfig `mapstructure:"peers"`
}

// Default time limits of the hook endpoint. A forwarder on the same
// machine sends a payload in well under a millisecond and gives up waiting
// for the answer after 300 ms; a client that takes longer is slow or hostile
// (a connection trickling a byte every few seconds, a "slowloris"), and
// without limits it holds a connection and a goroutine for as long as it
// likes: confighttp's own defaults bound neither the request body nor, for
// a minute, the headers.
const (
	// DefaultHooksReadHeaderTimeout bounds the reading of a request's
	// headers.
	DefaultHooksReadHeaderTimeout = 5 * time.Second
	// DefaultHooksReadTimeout bounds the reading of a whole request, body
	// included: 8 MiB (max_request_body_size) at 2 Mbit/s, for a central
	// collector reached over a slow link.
	DefaultHooksReadTimeout = 30 * time.Second
	// DefaultHooksWriteTimeout bounds the handling and answer of a request
	// once its headers are read (the usage query reads transcripts).
	DefaultHooksWriteTimeout = 30 * time.Second
	// DefaultHooksIdleTimeout is how long a kept-alive connection waits
	// for its next request.
	DefaultHooksIdleTimeout = 30 * time.Second
)

func defaultHooksConfig() HooksConfig {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = DefaultHooksEndpoint
	srv.MaxRequestBodySize = 8 << 20
	srv.ReadHeaderTimeout = DefaultHooksReadHeaderTimeout
	srv.ReadTimeout = DefaultHooksReadTimeout
	srv.WriteTimeout = DefaultHooksWriteTimeout
	srv.IdleTimeout = DefaultHooksIdleTimeout
	return HooksConfig{
		ServerConfig: srv,
		UsageQuery:   true,
		Chargeback:   chargeback.Default(),
		DedupEntries: 100000,
		MaxSessions:  10000,
		RetryAfter:   5 * time.Second,
		Accounting:   AccountingAuto,
	}
}

// Validate checks the hook endpoint's settings.
func (h *HooksConfig) Validate() error {
	var errs []error
	if h.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: empty; set a host:port such as "+DefaultHooksEndpoint))
	}
	if h.MaxRequestBodySize <= 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size: %d must be positive (hook payloads with tool output reach a few MB)", h.MaxRequestBodySize))
	}
	if h.DedupEntries < 1 {
		errs = append(errs, fmt.Errorf("dedup_entries: %d must be at least 1", h.DedupEntries))
	}
	if h.MaxSessions < 1 {
		errs = append(errs, fmt.Errorf("max_sessions: %d must be at least 1", h.MaxSessions))
	}
	if h.RetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("retry_after: %v is below the minimum of 1s", h.RetryAfter))
	}
	switch h.Accounting {
	case AccountingAuto, AccountingTranscript, AccountingHooks:
	default:
		errs = append(errs, fmt.Errorf("accounting: %q is not %q, %q or %q", h.Accounting, AccountingAuto, AccountingTranscript, AccountingHooks))
	}
	for i, a := range h.AllowedHosts {
		if _, err := parseHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("allowed_hosts::%d: %w; write a host name or IP address, optionally with :port (copilot-hooks.example.com, copilot-hooks.example.com:443)", i, err))
		}
	}
	if err := h.Chargeback.Attribution.ValidateMappingFile(); err != nil {
		errs = append(errs, fmt.Errorf("chargeback::attribution: %w", err))
	}
	if h.Peers != nil {
		if err := h.Peers.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if !h.Auth.HasValue() && !h.loopbackOnly() {
		errs = append(errs, fmt.Errorf("auth: required because endpoint %q accepts connections from other machines; configure an authenticator extension (bearertokenauth) or listen on 127.0.0.1", h.NetAddr.Endpoint))
	}
	return errors.Join(errs...)
}

// loopbackOnly reports whether the endpoint accepts connections from this
// machine only: a loopback address, localhost, or a Unix socket.
func (h *HooksConfig) loopbackOnly() bool {
	if h.unixSocket() {
		return true
	}
	host, _, err := net.SplitHostPort(h.NetAddr.Endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// unixSocket reports whether the endpoint is a Unix socket, which browsers
// cannot reach.
func (h *HooksConfig) unixSocket() bool {
	switch h.NetAddr.Transport {
	case confignet.TransportTypeUnix, confignet.TransportTypeUnixgram, confignet.TransportTypeUnixPacket:
		return true
	}
	return false
}
