package copilotreceiver

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
)

// forgedEnd is the sessionEnd a web page posted in issue 8: its usage
// object puts US$9 (900 AI credits), a million input tokens and 50
// premium requests on the metrics of a collector that counts sessions
// from their hooks.
const forgedEnd = `{"sessionId":"0b1e1ed0-5a1e-4c0d-9b11-00000000f0f0","timestamp":1795363646917,"reason":"complete",` +
	`"usage":{"totalNanoAiu":900000000000,"totalPremiumRequestCost":50,"modelMetrics":{"gpt-5":{"requests":{"count":50,"userInitiated":50,"premiumCost":50},` +
	`"usage":{"inputTokens":1000000},"totalNanoAiu":900000000000}}}}`

// siteRequest is a request to the hook endpoint as a browser, curl or the
// forwarder would send it.
type siteRequest struct {
	method, path string
	host         string // Host header; "" for the address connected to
	header       map[string]string
	body         string
}

func (c siteRequest) send(t *testing.T, base string) (int, string) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	require.NoError(t, err)
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r response
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(b, &r), "answer %d is not JSON: %s", resp.StatusCode, b)
		require.NotEmpty(t, r.Error)
	}
	return resp.StatusCode, r.Error
}

// TestHookRefusesWebPages: nothing a web page in the developer's browser
// can send reaches the pipelines or reads the usage query: a cross-site
// "simple" POST (text/plain, which needs no preflight), any request whose
// Origin is another origin or whose Sec-Fetch-Site says another site, a
// POST without the client header pages cannot add, and any request whose
// Host names another site (DNS rebinding). Each is answered 403 (421 for
// the Host) with what to do, and counted.
func TestHookRefusesWebPages(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	base, stop := h.startHooks(s, func(c *HooksConfig) { c.Accounting = AccountingHooks })
	defer stop()
	port := base[strings.LastIndex(base, ":")+1:]
	evil := "evil.example:" + port
	jsonClient := map[string]string{"Content-Type": "application/json", HeaderHookClient: "curl"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range jsonClient {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	end := hooksPath + "/sessionEnd"
	usagePath := sessionsPath + "/0b1e1ed0-5a1e-4c0d-9b11-00000000f0f0/usage"

	for name, c := range map[string]struct {
		req    siteRequest
		code   int
		reason string
		msg    string
	}{
		"cross-site simple POST": {siteRequest{method: "POST", path: end, body: forgedEnd, header: map[string]string{
			"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
		}}, 403, rejectCrossSite, "Origin"},
		"Origin evil.example":          {siteRequest{method: "POST", path: end, body: forgedEnd, header: with(map[string]string{"Origin": "http://evil.example"})}, 403, rejectCrossSite, "hooks.cors.allowed_origins"},
		"Origin another local port":    {siteRequest{method: "POST", path: end, body: forgedEnd, header: with(map[string]string{"Origin": "http://127.0.0.1:3000"})}, 403, rejectCrossSite, "Origin"},
		"Origin null":                  {siteRequest{method: "POST", path: end, body: forgedEnd, header: with(map[string]string{"Origin": "null"})}, 403, rejectCrossSite, "Origin"},
		"Sec-Fetch-Site cross-site":    {siteRequest{method: "POST", path: end, body: forgedEnd, header: with(map[string]string{"Sec-Fetch-Site": "cross-site"})}, 403, rejectCrossSite, "Sec-Fetch-Site"},
		"Sec-Fetch-Site same-site":     {siteRequest{method: "POST", path: end, body: forgedEnd, header: with(map[string]string{"Sec-Fetch-Site": "same-site"})}, 403, rejectCrossSite, "Sec-Fetch-Site"},
		"text/plain without Origin":    {siteRequest{method: "POST", path: end, body: forgedEnd, header: map[string]string{"Content-Type": "text/plain", HeaderHookClient: "curl"}}, 403, rejectContentType, "application/json"},
		"form without Origin":          {siteRequest{method: "POST", path: end, body: forgedEnd, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", HeaderHookClient: "curl"}}, 403, rejectContentType, "application/json"},
		"no Content-Type":              {siteRequest{method: "POST", path: end, body: forgedEnd, header: map[string]string{HeaderHookClient: "curl"}}, 403, rejectContentType, "application/json"},
		"no client header":             {siteRequest{method: "POST", path: end, body: forgedEnd, header: map[string]string{"Content-Type": "application/json"}}, 403, rejectClientHeader, HeaderHookClient},
		"rebinding: POST":              {siteRequest{method: "POST", path: end, body: forgedEnd, host: evil, header: jsonClient}, 421, rejectHost, "hooks.allowed_hosts"},
		"rebinding: GET sessions":      {siteRequest{method: "GET", path: sessionsPath, host: evil}, 421, rejectHost, "hooks.allowed_hosts"},
		"rebinding: GET usage":         {siteRequest{method: "GET", path: usagePath, host: evil}, 421, rejectHost, "Host"},
		"rebinding: GET health":        {siteRequest{method: "GET", path: healthPath, host: "evil.example"}, 421, rejectHost, "Host"},
		"rebinding: same-origin page":  {siteRequest{method: "GET", path: sessionsPath, host: evil, header: map[string]string{"Origin": "http://" + evil, "Sec-Fetch-Site": "same-origin"}}, 421, rejectHost, "Host"},
		"loopback name, another port":  {siteRequest{method: "GET", path: sessionsPath, host: "127.0.0.1:1"}, 421, rejectHost, "Host"},
		"GET sessions from a page":     {siteRequest{method: "GET", path: sessionsPath, header: map[string]string{"Origin": "http://evil.example"}}, 403, rejectCrossSite, "Origin"},
		"GET usage, cross-site":        {siteRequest{method: "GET", path: usagePath, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, rejectCrossSite, "Sec-Fetch-Site"},
		"navigation to health":         {siteRequest{method: "GET", path: healthPath, header: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}}, 403, rejectCrossSite, "Sec-Fetch-Site"},
		"preflight is never granted":   {siteRequest{method: "OPTIONS", path: end, header: map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}}, 403, rejectCrossSite, "Origin"},
		"Host without port is refused": {siteRequest{method: "GET", path: sessionsPath, host: "localhost"}, 421, rejectHost, "Host"},
	} {
		code, msg := c.req.send(t, base)
		assert.Equal(t, c.code, code, name)
		assert.Contains(t, msg, c.msg, name)
		if code == http.StatusMisdirectedRequest || code == http.StatusForbidden {
			assert.NotEmpty(t, c.reason, name)
		}
	}
	assert.Zero(t, s.calls.Load(), "a refused request reached the pipelines")
	assert.Zero(t, s.allMetrics().ResourceMetrics().Len())
	assert.Empty(t, s.spans(""))
	reasons := h.rejectedReasons()
	assert.Equal(t, map[string]int64{rejectCrossSite: 10, rejectContentType: 3, rejectClientHeader: 1, rejectHost: 7}, reasons)

	// What command-line clients and same-origin pages send is served.
	for name, c := range map[string]struct {
		req  siteRequest
		code int
	}{
		"curl GET sessions":            {siteRequest{method: "GET", path: sessionsPath}, 200},
		"curl GET health":              {siteRequest{method: "GET", path: healthPath}, 200},
		"HEAD health":                  {siteRequest{method: "HEAD", path: healthPath}, 200},
		"localhost":                    {siteRequest{method: "GET", path: sessionsPath, host: "localhost:" + port}, 200},
		"LOCALHOST":                    {siteRequest{method: "GET", path: sessionsPath, host: "LOCALHOST:" + port}, 200},
		"[::1]":                        {siteRequest{method: "GET", path: sessionsPath, host: "[::1]:" + port}, 200},
		"typed into the address bar":   {siteRequest{method: "GET", path: sessionsPath, header: map[string]string{"Sec-Fetch-Site": "none"}}, 200},
		"same-origin page":             {siteRequest{method: "GET", path: healthPath, header: map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}}, 200},
		"curl POST":                    {siteRequest{method: "POST", path: hooksPath + "/notification", body: `{"sessionId":"s","timestamp":1}`, header: jsonClient}, 202},
		"charset parameter":            {siteRequest{method: "POST", path: hooksPath + "/notification", body: `{"sessionId":"s","timestamp":2}`, header: with(map[string]string{"Content-Type": "application/json; charset=utf-8"})}, 202},
		"wrong method still says so":   {siteRequest{method: "PUT", path: end}, 405},
		"unknown path still not found": {siteRequest{method: "GET", path: "/v2/x"}, 404},
	} {
		code, _ := c.req.send(t, base)
		assert.Equal(t, c.code, code, name)
	}

	// The forwarder's own requests.
	client := &forwarder.Client{Endpoint: base, UserAgent: "otelcol-copilot-hook/test", Host: "dev-a", HTTP: &http.Client{Timeout: 10 * time.Second}}
	a := client.Send(context.Background(), forwarder.Entry{Type: "sessionEnd", ID: "f0f0", Received: time.Now(), Body: []byte(forgedEnd)})
	require.Equal(t, forwarder.Delivered, a.Outcome, "%s", a)
	assert.True(t, (&forwarder.Forwarder{Client: client}).Healthy(context.Background()))
	md := s.allMetrics()
	assert.Equal(t, int64(900000000000), sumWhere(md, mNanoAIU), "the forwarder's payload is counted")
	assert.Equal(t, map[string]int64{rejectCrossSite: 10, rejectContentType: 3, rejectClientHeader: 1, rejectHost: 7, rejectMethod: 1, rejectNotFound: 1}, h.rejectedReasons())
}

// TestHookAllowedHosts: a name configured in hooks.allowed_hosts is
// accepted besides the loopback names; any other is refused.
func TestHookAllowedHosts(t *testing.T) {
	h := newHarness(t)
	base, stop := h.startHooks(&sink{}, func(c *HooksConfig) {
		c.AllowedHosts = []string{"copilot.internal", "Tunnel.Example:8443"}
	})
	defer stop()
	port := base[strings.LastIndex(base, ":")+1:]
	for host, code := range map[string]int{
		"copilot.internal:" + port:  200,
		"copilot.internal":          200,
		"COPILOT.INTERNAL:1234":     200,
		"tunnel.example:8443":       200,
		"tunnel.example:" + port:    421,
		"127.0.0.1:" + port:         200,
		"other.internal:" + port:    421,
		"copilot.internal.evil.com": 421,
	} {
		got, _ := siteRequest{method: "GET", path: sessionsPath, host: host}.send(t, base)
		assert.Equal(t, code, got, host)
	}
}

// TestSiteGuardBeyondLoopback: an endpoint other machines reach (it
// requires an authenticator) answers to any Host unless
// hooks.allowed_hosts names them; the cross-site checks apply anyway. A
// page listed in hooks.cors.allowed_origins is let through.
func TestSiteGuardBeyondLoopback(t *testing.T) {
	check := func(cfg HooksConfig, listen string, r *http.Request) string {
		reason, _, _ := newSiteGuard(&cfg, listen).check(r)
		return reason
	}
	req := func(method, target, host string, hdr ...string) *http.Request {
		r := httptest.NewRequest(method, target, bytes.NewReader(nil))
		r.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	central := defaultHooksConfig()
	central.NetAddr.Endpoint = "0.0.0.0:4320"
	assert.Empty(t, check(central, "[::]:4320", req("GET", sessionsPath, "copilot-hooks.example.com:4320")))
	assert.Empty(t, check(central, "[::]:4320", req("GET", sessionsPath, "10.1.2.3:4320")))
	assert.Equal(t, rejectCrossSite, check(central, "[::]:4320", req("GET", sessionsPath, "copilot-hooks.example.com:4320", "Origin", "https://evil.example")))
	assert.Equal(t, rejectClientHeader, check(central, "[::]:4320", req("POST", hooksPath, "copilot-hooks.example.com:4320", "Content-Type", "application/json")))

	central.AllowedHosts = []string{"copilot-hooks.example.com"}
	assert.Empty(t, check(central, "[::]:4320", req("GET", sessionsPath, "copilot-hooks.example.com:4320")))
	assert.Empty(t, check(central, "[::]:4320", req("GET", healthPath, "localhost:4320")), "a health check on the machine itself")
	assert.Equal(t, rejectHost, check(central, "[::]:4320", req("GET", sessionsPath, "10.1.2.3:4320")))

	// Behind TLS, a Host without a port is the port 443.
	tlsReq := req("GET", sessionsPath, "localhost")
	tlsReq.TLS = &tls.ConnectionState{}
	assert.Empty(t, check(defaultHooksConfig(), "127.0.0.1:443", tlsReq))
	assert.Equal(t, rejectHost, check(defaultHooksConfig(), "127.0.0.1:443", req("GET", sessionsPath, "localhost")))
	tlsReq = req("GET", sessionsPath, "localhost:443", "Origin", "https://localhost")
	tlsReq.TLS = &tls.ConnectionState{}
	assert.Empty(t, check(defaultHooksConfig(), "127.0.0.1:443", tlsReq), "same origin, default port")

	// A Unix socket: browsers cannot reach it, and clients send any Host.
	unix := defaultHooksConfig()
	unix.NetAddr = confignet.AddrConfig{Endpoint: "/run/copilot.sock", Transport: confignet.TransportTypeUnix}
	assert.Empty(t, check(unix, "/run/copilot.sock", req("GET", sessionsPath, "localhost")))

	// Pages the operator lists in hooks.cors.allowed_origins.
	cors := defaultHooksConfig()
	cors.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"https://dash.example", "https://*.tools.example"}})
	for origin, want := range map[string]string{
		"https://dash.example":        "",
		"https://DASH.example":        "",
		"https://a.tools.example":     "",
		"https://dash.example.evil":   rejectCrossSite,
		"http://dash.example":         rejectCrossSite,
		"https://tools.example.evil/": rejectCrossSite,
	} {
		assert.Equal(t, want, check(cors, "127.0.0.1:4320", req("GET", sessionsPath, "127.0.0.1:4320", "Origin", origin, "Sec-Fetch-Site", "cross-site")), origin)
	}
	assert.Equal(t, rejectClientHeader, check(cors, "127.0.0.1:4320", req("POST", hooksPath, "127.0.0.1:4320", "Origin", "https://dash.example", "Content-Type", "application/json")),
		"a listed page still has to send the client header")
}

// TestAllowedHostsValidate: bad entries are named.
func TestAllowedHostsValidate(t *testing.T) {
	c := defaultHooksConfig()
	c.AllowedHosts = []string{"ok.example", "ok.example:443", "[::1]:8080", "10.0.0.1", "::1", "", "http://x.example", "x.example:0", "x.example:http", "*.example"}
	err := c.Validate()
	require.Error(t, err)
	for i := 0; i < 5; i++ {
		assert.NotContains(t, err.Error(), "allowed_hosts::"+string(rune('0'+i)))
	}
	for i := 5; i < 10; i++ {
		assert.ErrorContains(t, err, "allowed_hosts::"+string(rune('0'+i)))
	}
}
