package forwarder

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// testdataRoot is the repository's real Copilot CLI output.
func testdataRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "copilot-cli")
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// fullUsage reads a transcript from its start with a fresh tracker, as the
// collector does: the reference the forwarder's usage must equal.
func fullUsage(t testing.TB, path, key string) session.UsageSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := transcript.NewReader(f, 0, 0, transcript.Options{})
	tr := session.New(key, session.Options{})
	for {
		it, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if it.Event != nil {
			tr.Apply(it.Event, nil)
		}
	}
	return tr.Summary()
}

// received is one request the test collector saw.
type received struct {
	Type, ID, Auth     string
	Client             string
	Host, DroppedTotal string
	Spool              string
	Body               []byte
	Status             int
	// Attempt is the test's own number for the request (attemptHeader),
	// when a test's transport sets one (see attempts).
	Attempt string
}

// attemptHeader numbers the requests a test's transport sends, so that
// what the collector answered can be matched with what the forwarder got.
const attemptHeader = "X-Test-Attempt"

// collector is a stand-in for the copilot receiver's hook endpoint.
type collector struct {
	srv *httptest.Server
	// answer decides the response; nil accepts everything (202). hang makes
	// the handler wait for the client to give up.
	answer func(r received, n int) (status int, header http.Header, hang bool)
	// down makes the health endpoint answer 503.
	down bool

	mu       sync.Mutex
	all      []received
	accepted []received
	byID     map[string]int // 2xx answers per id
}

func newCollector(t testing.TB) *collector {
	c := &collector{byID: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.handle))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) URL() string { return c.srv.URL }

func (c *collector) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == HealthPath {
		c.mu.Lock()
		down := c.down
		c.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get(ClientHeader) == "" || r.Header.Get("Content-Type") != "application/json" {
		// As the copilot receiver: a POST a web page could have sent is
		// refused.
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"send Content-Type: application/json and `+ClientHeader+`"}`)
		return
	}
	rec := received{
		Type:   strings.TrimPrefix(r.URL.Path, HooksPath),
		ID:     r.Header.Get(HookIDHeader),
		Auth:   r.Header.Get("Authorization"),
		Client: r.Header.Get(ClientHeader),
		Host:   r.Header.Get(HostHeader),
		Body:   body,

		DroppedTotal: r.Header.Get(DroppedTotalHeader),
		Spool:        r.Header.Get(SpoolHeader),
		Attempt:      r.Header.Get(attemptHeader),
	}
	c.mu.Lock()
	n := len(c.all)
	answer := c.answer
	c.mu.Unlock()
	status, hdr, hang := http.StatusAccepted, http.Header(nil), false
	if answer != nil {
		status, hdr, hang = answer(rec, n)
	}
	if hang {
		<-r.Context().Done()
		return
	}
	rec.Status = status
	c.mu.Lock()
	c.all = append(c.all, rec)
	if status/100 == 2 {
		c.byID[rec.ID]++
		if c.byID[rec.ID] == 1 {
			c.accepted = append(c.accepted, rec)
		}
	}
	c.mu.Unlock()
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch {
	case status/100 == 2:
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	case status == http.StatusBadRequest:
		_, _ = w.Write([]byte(`{"error":"the payload has no sessionId"}`))
	default:
		_, _ = w.Write([]byte(`{"error":"refused"}`))
	}
}

func (c *collector) setAnswer(f func(r received, n int) (int, http.Header, bool)) {
	c.mu.Lock()
	c.answer = f
	c.mu.Unlock()
}

func (c *collector) requests() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.all...)
}

func (c *collector) acceptedList() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.accepted...)
}

// deadEndpoint is a loopback URL where nothing listens.
func deadEndpoint(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// testForwarder returns a forwarder whose state is in a fresh directory.
func testForwarder(t testing.TB, endpoint string) *Forwarder {
	t.Helper()
	dir := t.TempDir()
	log := &Logger{Path: filepath.Join(dir, "hook.log"), Level: LevelDebug}
	return &Forwarder{
		Client:       &Client{Endpoint: endpoint, HTTP: &http.Client{}},
		Spool:        &Spool{Dir: filepath.Join(dir, "spool"), Log: log},
		Usage:        &UsageCounter{CacheDir: filepath.Join(dir, "hook-usage"), Log: log},
		CopilotHome:  filepath.Join(dir, "copilot-home"),
		Timeout:      300 * time.Millisecond,
		ReplayBudget: 200 * time.Millisecond,
		Log:          log,
	}
}

func logText(t testing.TB, f *Forwarder) string {
	t.Helper()
	b, _ := os.ReadFile(f.Log.Path)
	return string(b)
}

func spoolIDs(t testing.TB, s *Spool) []string {
	t.Helper()
	items, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.id)
	}
	return ids
}

func payload(s string) io.Reader { return bytes.NewReader([]byte(s)) }

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
