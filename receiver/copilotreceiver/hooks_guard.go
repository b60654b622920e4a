package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// HeaderHookClient is the request header every POST to the hook endpoint
// must carry (any value; the forwarder sends its name). A web page cannot
// add a header of its own to a request to another site without a CORS
// preflight, which the endpoint never grants, so a payload that carries it
// was not forged by a page in the developer's browser.
const HeaderHookClient = "X-Copilot-Hook-Client"

// Reasons of receiver_copilot_hooks_rejected for requests refused because
// they may come from a web page rather than from a hook.
const (
	rejectHost         = "host"          // the Host header names another site (DNS rebinding)
	rejectCrossSite    = "cross_site"    // Origin or Sec-Fetch-Site says a page of another site sent it
	rejectContentType  = "content_type"  // a POST that is not application/json
	rejectClientHeader = "client_header" // a POST without HeaderHookClient
)

// hostPort is a Host header or a hooks.allowed_hosts entry: a lower-case
// name or IP address (without brackets), and a port, "" for any.
type hostPort struct {
	host, port string
}

// parseHostPort reads "name", "name:port", "1.2.3.4:port", "[::1]:port" or
// "::1".
func parseHostPort(s string) (hostPort, error) {
	if s == "" {
		return hostPort{}, fmt.Errorf("empty")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port.
		host, port = s, ""
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" || strings.ContainsAny(host, "/@?#[] \t*") {
		return hostPort{}, fmt.Errorf("%q is not a host name or IP address", s)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return hostPort{}, fmt.Errorf("%q is not a host name or IP address", s)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return hostPort{}, fmt.Errorf("%q has no valid port", s)
		}
	}
	return hostPort{host: strings.ToLower(host), port: port}, nil
}

// isLoopbackName reports whether a host names this machine's loopback
// interface: localhost, 127.0.0.1 (any 127.x.y.z) or ::1.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// siteGuard refuses requests that a web page in the developer's browser
// could have sent: payloads it would forge (a cross-site "simple" POST
// needs no preflight, so the browser sends it whatever the answer), and
// reads of the usage query after DNS rebinding (the page's own name, now
// resolving to 127.0.0.1, in the Host header). Command-line clients,
// which send no Origin or Sec-Fetch-* headers, and the forwarder pass.
type siteGuard struct {
	// anyHost skips the Host check: a Unix socket, or an endpoint
	// beyond loopback without hooks.allowed_hosts.
	anyHost bool
	// port is the port the endpoint listens on.
	port    string
	allowed []hostPort
	// origins are hooks.cors.allowed_origins: pages the operator let in.
	origins []string
}

func newSiteGuard(cfg *HooksConfig, listenAddr string) *siteGuard {
	g := &siteGuard{}
	if _, port, err := net.SplitHostPort(listenAddr); err == nil {
		g.port = port
	}
	for _, a := range cfg.AllowedHosts {
		if hp, err := parseHostPort(a); err == nil { // Validate reported the others
			g.allowed = append(g.allowed, hp)
		}
	}
	g.anyHost = cfg.unixSocket() || g.port == "" || (!cfg.loopbackOnly() && len(g.allowed) == 0)
	if cfg.Peers != nil && len(g.allowed) > 0 {
		// The other replicas reach this one by the name its entry of
		// hooks::peers::endpoints gives.
		for _, e := range cfg.Peers.Endpoints {
			if u, err := url.Parse(e); err == nil {
				if hp, err := parseHostPort(u.Host); err == nil {
					g.allowed = append(g.allowed, hp)
				}
			}
		}
	}
	if cfg.CORS.HasValue() {
		for _, o := range cfg.CORS.Get().AllowedOrigins {
			g.origins = append(g.origins, strings.ToLower(o))
		}
	}
	return g
}

// check returns why r is refused: the rejection reason, the status and a
// message that says what to do; an empty reason lets it through.
func (g *siteGuard) check(r *http.Request) (reason string, status int, msg string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !g.hostAllowed(r.Host, scheme) {
		return rejectHost, http.StatusMisdirectedRequest, fmt.Sprintf(
			"the Host header %q does not name this endpoint (as a web page's would after DNS rebinding): send requests to 127.0.0.1:%s, localhost:%s or [::1]:%s, or add the name clients use to hooks.allowed_hosts",
			r.Host, g.port, g.port, g.port)
	}
	origin := r.Header.Get("Origin")
	let := origin != "" && g.originListed(origin)
	if origin != "" && !let && !sameOrigin(origin, scheme, r.Host) {
		return rejectCrossSite, http.StatusForbidden, fmt.Sprintf(
			"requests from web pages of another origin (Origin %q) are refused: hook payloads come from otelcol-copilot-hook or a command-line client; list a page that may use the endpoint in hooks.cors.allowed_origins",
			origin)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); !let && (site == "cross-site" || site == "same-site") {
		return rejectCrossSite, http.StatusForbidden, fmt.Sprintf(
			"requests from web pages of another site (Sec-Fetch-Site %q) are refused: hook payloads come from otelcol-copilot-hook or a command-line client", site)
	}
	if r.Method != http.MethodPost {
		return "", 0, ""
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return rejectContentType, http.StatusForbidden, fmt.Sprintf(
			"hook payloads are sent with Content-Type: application/json (this request has %q), and with the header %s: <your client's name>",
			r.Header.Get("Content-Type"), HeaderHookClient)
	}
	if r.Header.Get(HeaderHookClient) == "" {
		return rejectClientHeader, http.StatusForbidden, fmt.Sprintf(
			"hook payloads are sent with the header %s: <your client's name> (otelcol-copilot-hook sends it; with curl, -H '%s: curl'), which web pages cannot add",
			HeaderHookClient, HeaderHookClient)
	}
	return "", 0, ""
}

// hostAllowed reports whether a Host header names this endpoint: a
// loopback name with the port it listens on, or an entry of
// hooks.allowed_hosts.
func (g *siteGuard) hostAllowed(host, scheme string) bool {
	if g.anyHost {
		return true
	}
	hp, err := parseHostPort(host)
	if err != nil {
		return false
	}
	port := hp.port
	if port == "" {
		port = defaultPort(scheme)
	}
	if isLoopbackName(hp.host) && port == g.port {
		return true
	}
	for _, a := range g.allowed {
		if a.host == hp.host && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// originListed reports whether an Origin matches hooks.cors.allowed_origins,
// as the CORS handler matches it: exactly, or with one "*" standing for any
// text.
func (g *siteGuard) originListed(origin string) bool {
	o := strings.ToLower(origin)
	for _, p := range g.origins {
		if before, after, found := strings.Cut(p, "*"); found {
			if len(o) >= len(before)+len(after) && strings.HasPrefix(o, before) && strings.HasSuffix(o, after) {
				return true
			}
		} else if p == o {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin is the origin of the request itself
// (its scheme and Host).
func sameOrigin(origin, scheme, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != scheme || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	o, err1 := parseHostPort(u.Host)
	h, err2 := parseHostPort(host)
	if err1 != nil || err2 != nil {
		return false
	}
	if o.port == "" {
		o.port = defaultPort(scheme)
	}
	if h.port == "" {
		h.port = defaultPort(scheme)
	}
	return o == h
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// guard wraps the endpoint's handler with the site guard.
func (h *hookServer) guard(g *siteGuard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason, status, msg := g.check(r); reason != "" {
			h.reject(w, status, reason, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}
