package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// HeaderPeer marks a request one replica of a hook endpoint tier passed to
// the replica that owns its session; its value is the sender's
// hooks::peers::self. A replica never passes such a request on again.
const HeaderPeer = "X-Otelcol-Copilot-Peer"

// PeersConfig makes the hook endpoints of several collectors one tier
// behind any load balancer: each session has one owner among them (by
// rendezvous hashing of its id over Endpoints), which alone keeps its
// accounting state (usage already counted, open tool calls, payloads
// seen); a payload that reaches another replica is passed to the owner and
// its answer passed back. While the owner does not answer, the payload is
// refused with 503 and Retry-After, and the forwarder keeps it in its
// spool: a session is counted once whichever replica its payloads reach,
// also while its owner restarts.
type PeersConfig struct {
	// Self is this collector's entry of Endpoints, e.g.
	// http://${env:POD_NAME}.otelcol-copilot-gateway-headless:4320.
	Self string `mapstructure:"self"`
	// Endpoints are the base URLs of every replica's hook endpoint, this
	// one's included, by names that survive a restart (a StatefulSet's pod
	// names): a replica that restarts keeps its sessions. Changing the list
	// moves about 1/N of the sessions to another owner, which counts their
	// usage from what the next payload carries: change it between working
	// days, not under load.
	Endpoints []string `mapstructure:"endpoints"`
	// Timeout bounds a request to a peer. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`
	// TLS configures the requests to peers (https endpoints).
	TLS configtls.ClientConfig `mapstructure:"tls"`
}

// Validate checks the peer list.
func (c *PeersConfig) Validate() error {
	var errs []error
	if len(c.Endpoints) == 0 {
		errs = append(errs, errors.New("hooks::peers::endpoints: list every replica's hook endpoint, this one's included"))
	}
	seen := map[string]bool{}
	for i, e := range c.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("hooks::peers::endpoints::%d: %q is not a base URL like http://replica-0.headless:4320", i, e))
		}
		if seen[e] {
			errs = append(errs, fmt.Errorf("hooks::peers::endpoints::%d: %q is listed twice", i, e))
		}
		seen[e] = true
	}
	if !slices.Contains(c.Endpoints, c.Self) {
		errs = append(errs, fmt.Errorf("hooks::peers::self: %q is not one of hooks::peers::endpoints", c.Self))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("hooks::peers::timeout: %s must not be negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// peerRing picks a session's owner and passes requests to it.
type peerRing struct {
	self      string
	endpoints []string
	client    *http.Client
}

func newPeerRing(ctx context.Context, c *PeersConfig) (*peerRing, error) {
	tlsCfg, err := c.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("hooks::peers::tls: %w", err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &peerRing{self: c.Self, endpoints: slices.Clone(c.Endpoints), client: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

// owner is the endpoint with the highest hash of (endpoint, session):
// rendezvous hashing, so that removing an endpoint moves only its sessions.
func (p *peerRing) owner(sessionID string) string {
	var best string
	var bestScore uint64
	for _, e := range p.endpoints {
		h := sha256.New()
		h.Write([]byte(e))
		h.Write([]byte{0})
		h.Write([]byte(sessionID))
		score := binary.BigEndian.Uint64(h.Sum(nil))
		if best == "" || score > bestScore {
			best, bestScore = e, score
		}
	}
	return best
}

// passedHeaders are the request headers a peer needs: authentication, the
// hook endpoint's own headers and the guard's client header.
var passedHeaders = []string{"Authorization", "Content-Type", "User-Agent", HeaderHookClient, HeaderHookID, HeaderHookHost, HeaderHookDroppedTotal, HeaderHookSpool}

// errPeer is a peer that did not answer.
type errPeer struct {
	owner string
	err   error
}

func (e *errPeer) Error() string {
	return fmt.Sprintf("the replica that owns this session (%s) did not answer: %v", e.owner, e.err)
}

// pass sends r (whose body was read into body) to owner and writes its
// answer to w. It returns an *errPeer, having written nothing, when the
// owner cannot be reached.
func (p *peerRing) pass(w http.ResponseWriter, r *http.Request, body []byte, owner string) error {
	target := strings.TrimRight(owner, "/") + r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		return &errPeer{owner, err}
	}
	for _, k := range passedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			req.Header[http.CanonicalHeaderKey(k)] = v
		}
	}
	req.Header.Set(HeaderPeer, p.self)
	resp, err := p.client.Do(req)
	if err != nil {
		return &errPeer{owner, err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &errPeer{owner, err}
	}
	for _, k := range []string{"Content-Type", "Retry-After", "Allow"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
	return nil
}

func (p *peerRing) close() { p.client.CloseIdleConnections() }

// passToOwner passes a request about session sid to the replica that owns
// it, when that is not this one, and reports whether it answered w. A
// request another replica passed here is this replica's to answer: were
// the replicas' lists to disagree (a configuration being rolled out), it
// is refused for now rather than counted where its session's state is not.
func (h *hookServer) passToOwner(w http.ResponseWriter, r *http.Request, body []byte, sid string) bool {
	if h.peers == nil || sid == "" {
		return false
	}
	owner := h.peers.owner(sid)
	if owner == h.peers.self {
		return false
	}
	retry := strconv.Itoa(int(h.cfg.RetryAfter / time.Second))
	if from := r.Header.Get(HeaderPeer); from != "" {
		h.tel.ReceiverCopilotHooksPeerPassed.Add(bg, 1, metric.WithAttributes(attribute.String("outcome", "misrouted")))
		h.log.Warn("A replica passed a session this replica does not own: are hooks::peers::endpoints the same on every replica?",
			zap.String("from", from), zap.String("owner", owner), zap.String("session.id", sid))
		w.Header().Set("Retry-After", retry)
		writeJSON(w, http.StatusServiceUnavailable, response{Error: fmt.Sprintf("replica %s was passed a session that %s owns by its hooks::peers; send it again later", h.peers.self, owner)})
		return true
	}
	if err := h.peers.pass(w, r, body, owner); err != nil {
		h.tel.ReceiverCopilotHooksPeerPassed.Add(bg, 1, metric.WithAttributes(attribute.String("outcome", "unreachable")))
		w.Header().Set("Retry-After", retry)
		writeJSON(w, http.StatusServiceUnavailable, response{Error: err.Error() + "; send it again later"})
		return true
	}
	h.tel.ReceiverCopilotHooksPeerPassed.Add(bg, 1, metric.WithAttributes(attribute.String("outcome", "passed")))
	return true
}
