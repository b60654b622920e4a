//go:build clie2e

// Package e2e runs the real GitHub Copilot CLI against the distribution:
// the CLI (npm @github/copilot, installed by .ci/run, named by
// COPILOT_CLI) runs offline in bring-your-own-key mode against the fake
// provider of internal/testsupport/fakeprovider on loopback, with the hook forwarder
// installed by its own install command, and the collector built from
// cmd/otelcol-copilot-gateway (the copilot receiver of both distributions,
// and the file exporter) exporting to files.
//
//	COPILOT_CLI=/path/to/node_modules/.bin/copilot go test -tags clie2e -count=1 ./e2e/
//
// E2E_KEEP=<dir> copies the chargeback test's output and the CLI's
// sessions there, for a look after the test.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeprovider"
)

const (
	branch = "feature/PAY-4411-refund-retries"
	model  = fakeprovider.DefaultModel
)

// env is the world one test runs in.
type env struct {
	t           *testing.T
	cli         string
	bin         string // built binaries
	home        string // the CLI's HOME
	copilotHome string
	repo        string
	state       string // OTELCOL_COPILOT_STATE_DIR of collector and forwarder
	out         string // file exporter output
	provider    *fakeprovider.Server
	hookPort    int
	proxy       *recorder
	collector   *exec.Cmd
	runs        int
	// telemetryPort serves the collector's own metrics; stopCollector
	// adds its session store counters to sourceChecked and sourceMismatch.
	telemetryPort                 int
	sourceChecked, sourceMismatch float64
}

func newEnv(t *testing.T) *env {
	cli := os.Getenv("COPILOT_CLI")
	if cli == "" {
		t.Fatal("COPILOT_CLI is not set: install the CLI (npm install @github/copilot@1.0.102) and name its node_modules/.bin/copilot; .ci/run does this")
	}
	root := t.TempDir()
	e := &env{
		t: t, cli: cli,
		bin:   filepath.Join(root, "bin"),
		home:  filepath.Join(root, "home"),
		state: filepath.Join(root, "state"),
		out:   filepath.Join(root, "out"),
	}
	e.copilotHome = filepath.Join(e.home, ".copilot")
	e.repo = filepath.Join(e.home, "src", "payments-api")
	for _, d := range []string{e.bin, e.state, e.out, filepath.Join(e.repo, "src")} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	e.build()
	e.gitInit()

	e.provider = fakeprovider.New(fakeprovider.Options{})
	require.NoError(t, e.provider.Start())
	t.Cleanup(func() { _ = e.provider.Close() })

	e.hookPort = freePort(t)
	e.telemetryPort = freePort(t)
	e.proxy = newRecorder(t, fmt.Sprintf("http://127.0.0.1:%d", e.hookPort))
	t.Cleanup(e.proxy.Close)

	// The forwarder, installed the way a developer installs it; it posts
	// through the recording proxy, which passes everything on.
	// A longer wait for the CLI's hook.start line than the 150ms default:
	// the test checks that end-of-turn hooks carry the final usage, and
	// on a loaded CI machine the CLI can take longer to write its batch
	// (seen once: an agentStop without usage). The default's latency is
	// measured by tools/bench-hook, not here.
	e.run(e.hookBin(), "install", "--endpoint", e.proxy.URL, "--copilot-home", e.copilotHome, "--sync-wait", "2s")
	// A witness hook file beside it: every payload the CLI writes, as is.
	e.writeWitness()
	return e
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (e *env) hookBin() string { return filepath.Join(e.bin, "otelcol-copilot-hook") }

// collectorBin is the gateway distribution: the base configuration observes
// what the receiver exports through the file exporter, and the chargeback
// test adds jira, notify and filter, which only the gateway has. Its
// copilot receiver is the laptop distribution's.
func (e *env) collectorBin() string { return filepath.Join(e.bin, "otelcol-copilot-gateway") }

func (e *env) build() {
	for _, pkg := range []string{"otelcol-copilot-gateway", "otelcol-copilot-hook"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(e.bin, pkg), "./cmd/"+pkg)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		require.NoError(e.t, err, "go build %s: %s", pkg, out)
	}
}

func (e *env) gitInit() {
	e.gitInitIn(e.repo, branch, "")
}

// gitInitIn makes dir a git repository on branch, with a GitHub remote
// when remote is "owner/name".
func (e *env) gitInitIn(dir, branch, remote string) {
	require.NoError(e.t, os.MkdirAll(dir, 0o755))
	cmds := [][]string{{"init", "-q", "-b", branch}, {"commit", "-q", "--allow-empty", "-m", "Initial commit"}}
	if remote != "" {
		cmds = append(cmds, []string{"remote", "add", "origin", "https://github.com/" + remote + ".git"})
	}
	for _, args := range cmds {
		e.git(dir, args...)
	}
}

// git runs git in dir as the test's user.
func (e *env) git(dir string, args ...string) {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com"}
	out, err := cmd.CombinedOutput()
	require.NoError(e.t, err, "git %v: %s", args, out)
}

// writeWitness installs a second user-level hook file that appends each
// payload to <out>/witness/<type>.jsonl.
func (e *env) writeWitness() {
	dir := filepath.Join(e.out, "witness")
	require.NoError(e.t, os.MkdirAll(dir, 0o755))
	hooks := map[string]any{}
	for _, typ := range hookTypes {
		hooks[typ] = []map[string]any{{
			"type": "command", "timeoutSec": 30,
			"bash": fmt.Sprintf("cat >> %s/%s.jsonl; echo >> %s/%s.jsonl", dir, typ, dir, typ),
		}}
	}
	b, err := json.MarshalIndent(map[string]any{"version": 1, "hooks": hooks}, "", "  ")
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(e.copilotHome, "hooks", "witness.json"), b, 0o644))
}

var hookTypes = []string{
	"sessionStart", "sessionEnd", "userPromptSubmitted", "preToolUse", "postToolUse", "postToolUseFailure",
	"errorOccurred", "agentStop", "subagentStart", "subagentStop", "permissionRequest", "preCompact", "notification",
}

// baseEnv is the environment of every process: nothing of the test's own
// but PATH.
func (e *env) baseEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.home,
		"LANG=C.UTF-8",
		"COPILOT_HOME=" + e.copilotHome,
		"OTELCOL_COPILOT_STATE_DIR=" + e.state,
	}
}

func (e *env) run(name string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = e.baseEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(e.t, err, "%s %v: %s", name, args, out)
	return string(out)
}

// startCollector runs the gateway distribution with the file exporter;
// each run writes its own files.
func (e *env) startCollector() { e.startCollectorWith("") }

// baseConfig is the collector's configuration: the copilot receiver into
// files named by the run.
func (e *env) baseConfig() string {
	return fmt.Sprintf(`
extensions:
  file_storage:
    directory: %[1]s/storage
    create_directory: true
receivers:
  copilot:
    session_state:
      include: [%[2]s/session-state/*/events.jsonl]
      storage: file_storage
      poll_interval: 100ms
    hooks:
      endpoint: 127.0.0.1:%[3]d
exporters:
  file/metrics:
    path: %[4]s/metrics-%[5]d.jsonl
  file/logs:
    path: %[4]s/logs-%[5]d.jsonl
  file/traces:
    path: %[4]s/traces-%[5]d.jsonl
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus: {host: 127.0.0.1, port: %[6]d}
  pipelines:
    metrics: {receivers: [copilot], exporters: [file/metrics]}
    logs: {receivers: [copilot], exporters: [file/logs]}
    traces: {receivers: [copilot], exporters: [file/traces]}
`, e.state, e.copilotHome, e.hookPort, e.out, e.runs, e.telemetryPort)
}

// startCollectorWith runs the gateway distribution on the base configuration with
// overlay (a configuration the collector merges over it) when not empty.
func (e *env) startCollectorWith(overlay string) {
	e.runs++
	args := []string{}
	for i, cfg := range []string{e.baseConfig(), overlay} {
		if cfg == "" {
			continue
		}
		path := filepath.Join(e.out, fmt.Sprintf("config-%d-%d.yaml", e.runs, i))
		require.NoError(e.t, os.WriteFile(path, []byte(cfg), 0o644))
		args = append(args, "--config", path)
	}
	cmd := exec.Command(e.collectorBin(), args...)
	cmd.Env = e.baseEnv()
	logf, err := os.Create(filepath.Join(e.out, fmt.Sprintf("collector-%d.log", e.runs)))
	require.NoError(e.t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(e.t, cmd.Start())
	e.collector = cmd
	e.t.Cleanup(func() {
		if e.collector == cmd {
			e.stopCollector()
		}
		logf.Close()
	})
	require.Eventually(e.t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", e.hookPort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the collector did not start; see collector-%d.log", e.runs)
}

// stopCollector stops the collector as a service manager would; it
// flushes what it read.
func (e *env) stopCollector() {
	if e.collector == nil {
		return
	}
	e.scrapeSource()
	require.NoError(e.t, e.collector.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- e.collector.Wait() }()
	select {
	case err := <-done:
		require.NoError(e.t, err, "the collector did not stop cleanly")
	case <-time.After(30 * time.Second):
		_ = e.collector.Process.Kill()
		e.t.Fatal("the collector did not stop within 30s")
	}
	e.collector = nil
}

// copilot runs the CLI once and returns the session it ran.
func (e *env) copilot(prompt string, resume string) string {
	e.t.Helper()
	return e.copilotIn(e.repo, nil, prompt, resume)
}

// copilotIn runs the CLI once in dir, with extra environment, and returns
// the session it ran.
func (e *env) copilotIn(dir string, extraEnv []string, prompt string, resume string) string {
	e.t.Helper()
	before := e.sessions()
	args := []string{"-p", prompt, "--allow-all-tools"}
	if resume != "" {
		args = append([]string{"--resume", resume}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.cli, args...)
	cmd.Dir = dir
	cmd.Env = append(append(e.baseEnv(), extraEnv...),
		"TERM=dumb", "NO_COLOR=1",
		"COPILOT_OFFLINE=true",
		"COPILOT_PROVIDER_BASE_URL="+e.provider.URL(),
		"COPILOT_MODEL="+model,
		"COPILOT_ALLOW_ALL=true",
		"COPILOT_AUTO_UPDATE=false",
		"COPILOT_CACHE_HOME="+cacheHome(e.t),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	require.NoError(e.t, err, "copilot %v: %s", args, out)
	if resume != "" {
		return resume
	}
	var fresh []string
	for _, s := range e.sessions() {
		if !slices.Contains(before, s) {
			fresh = append(fresh, s)
		}
	}
	require.Len(e.t, fresh, 1, "sessions the run left")
	return fresh[0]
}

// cacheHome is the CLI's package cache: kept between runs by .ci/run.
func cacheHome(t *testing.T) string {
	if d := os.Getenv("COPILOT_CACHE_HOME"); d != "" {
		return d
	}
	return filepath.Join(t.TempDir(), "copilot-cache")
}

func (e *env) sessions() []string {
	ents, _ := os.ReadDir(filepath.Join(e.copilotHome, "session-state"))
	var out []string
	for _, d := range ents {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, d.Name())
		}
	}
	return out
}

// recorder is a reverse proxy in front of the hook endpoint that keeps
// every request body it passed on and the answer it got.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Path   string
	ID     string
	Body   []byte
	Status int
}

func newRecorder(t *testing.T, upstream string) *recorder {
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	r := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		// Present the collector's own address, as the forwarder does
		// without the recorder: the endpoint refuses a Host that does not
		// name it (hooks.allowed_hosts).
		req.Host = u.Host
		proxy.ServeHTTP(sw, req)
		if req.Method == http.MethodPost {
			r.mu.Lock()
			r.requests = append(r.requests, recorded{Path: req.URL.Path, ID: req.Header.Get("X-Copilot-Hook-Id"), Body: body, Status: sw.status})
			r.mu.Unlock()
		}
	}))
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// delivered returns the payloads the collector accepted (2xx), by id: a
// payload sent again keeps its id.
func (r *recorder) delivered() map[string]recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]recorded{}
	for _, q := range r.requests {
		if q.Status/100 == 2 {
			out[q.ID] = q
		}
	}
	return out
}

// firedHook is one hook the CLI ran, as its transcript records it
// (hook.start carries the payload it wrote, though not always its
// timestamp).
type firedHook struct {
	Type      string
	SessionID string
}

func (f firedHook) String() string { return f.Type + " " + f.SessionID }

// transcript is what the test reads of a transcript with encoding/json,
// independently of the receiver's code.
type transcript struct {
	Fired []firedHook
	// Final is the CLI's own accounting: the last shutdown's model
	// metrics (cumulative since 1.0.66).
	Final         map[string]modelMetric
	ToolCalls     int
	Starts        int
	Resumes       int
	Shutdowns     int
	SubagentRuns  int
	LastShutdown  json.RawMessage
	ShutdownTimes []time.Time
}

type modelMetric struct {
	Requests struct {
		Count int64   `json:"count"`
		Cost  float64 `json:"cost"`
	} `json:"requests"`
	Usage struct {
		InputTokens      int64 `json:"inputTokens"`
		OutputTokens     int64 `json:"outputTokens"`
		CacheReadTokens  int64 `json:"cacheReadTokens"`
		CacheWriteTokens int64 `json:"cacheWriteTokens"`
		ReasoningTokens  int64 `json:"reasoningTokens"`
	} `json:"usage"`
	TotalNanoAiu float64 `json:"totalNanoAiu"`
}

func (e *env) readTranscript(id string) transcript {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.copilotHome, "session-state", id, "events.jsonl"))
	require.NoError(e.t, err)
	defer f.Close()
	var tr transcript
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var ev struct {
			Type      string          `json:"type"`
			Timestamp time.Time       `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		require.NoError(e.t, json.Unmarshal(sc.Bytes(), &ev), "%s", sc.Bytes())
		switch ev.Type {
		case "hook.start":
			var d struct {
				HookType string `json:"hookType"`
				Input    struct {
					SessionID string `json:"sessionId"`
				} `json:"input"`
			}
			require.NoError(e.t, json.Unmarshal(ev.Data, &d))
			tr.Fired = append(tr.Fired, firedHook{d.HookType, d.Input.SessionID})
		case "session.shutdown":
			var d struct {
				ModelMetrics map[string]modelMetric `json:"modelMetrics"`
			}
			require.NoError(e.t, json.Unmarshal(ev.Data, &d))
			tr.Final = d.ModelMetrics
			tr.Shutdowns++
			tr.LastShutdown = ev.Data
			tr.ShutdownTimes = append(tr.ShutdownTimes, ev.Timestamp)
		case "tool.execution_complete":
			tr.ToolCalls++
		case "session.start":
			tr.Starts++
		case "session.resume":
			tr.Resumes++
		case "subagent.completed", "subagent.failed":
			tr.SubagentRuns++
		}
	}
	require.NoError(e.t, sc.Err())
	return tr
}

// totals are usage by model.
type totals map[string]modelMetric

func add(t totals, m string, v modelMetric) {
	o := t[m]
	o.Requests.Count += v.Requests.Count
	o.Requests.Cost += v.Requests.Cost
	o.Usage.InputTokens += v.Usage.InputTokens
	o.Usage.OutputTokens += v.Usage.OutputTokens
	o.Usage.CacheReadTokens += v.Usage.CacheReadTokens
	o.Usage.CacheWriteTokens += v.Usage.CacheWriteTokens
	o.Usage.ReasoningTokens += v.Usage.ReasoningTokens
	o.TotalNanoAiu += v.TotalNanoAiu
	t[m] = o
}

// readMetrics merges every metrics file the collector runs wrote.
func (e *env) readMetrics() pmetric.Metrics {
	out := pmetric.NewMetrics()
	files, _ := filepath.Glob(filepath.Join(e.out, "metrics-*.jsonl"))
	var um pmetric.JSONUnmarshaler
	for _, f := range files {
		forLines(e.t, f, func(line []byte) {
			md, err := um.UnmarshalMetrics(line)
			require.NoError(e.t, err)
			md.ResourceMetrics().MoveAndAppendTo(out.ResourceMetrics())
		})
	}
	return out
}

func (e *env) readLogs() plog.Logs {
	out := plog.NewLogs()
	files, _ := filepath.Glob(filepath.Join(e.out, "logs-*.jsonl"))
	var ul plog.JSONUnmarshaler
	for _, f := range files {
		forLines(e.t, f, func(line []byte) {
			ld, err := ul.UnmarshalLogs(line)
			require.NoError(e.t, err)
			ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
		})
	}
	return out
}

func forLines(t *testing.T, path string, fn func([]byte)) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			fn(sc.Bytes())
		}
	}
	require.NoError(t, sc.Err())
}

// exported sums the usage metrics by model.
func exported(md pmetric.Metrics) totals {
	out := totals{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					mv, ok := dp.Attributes().Get("gen_ai.request.model")
					if !ok {
						continue
					}
					var v modelMetric
					switch m.Name() {
					case "copilot.api.requests":
						v.Requests.Count = dp.IntValue()
					case "copilot.usage.premium_requests":
						v.Requests.Cost = dp.DoubleValue()
					case "copilot.usage.nano_aiu":
						v.TotalNanoAiu = float64(dp.IntValue())
					case "copilot.usage.tokens":
						tt, _ := dp.Attributes().Get("gen_ai.token.type")
						switch tt.Str() {
						case "input":
							v.Usage.InputTokens = dp.IntValue()
						case "output":
							v.Usage.OutputTokens = dp.IntValue()
						case "cache_read":
							v.Usage.CacheReadTokens = dp.IntValue()
						case "cache_write":
							v.Usage.CacheWriteTokens = dp.IntValue()
						case "reasoning":
							v.Usage.ReasoningTokens = dp.IntValue()
						}
					default:
						continue
					}
					add(out, mv.Str(), v)
				}
			}
		}
	}
	return out
}

func sumMetric(md pmetric.Metrics, name string, attrs ...string) int64 {
	var n int64
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name {
					continue
				}
			points:
				for _, dp := range m.Sum().DataPoints().All() {
					for i := 0; i+1 < len(attrs); i += 2 {
						v, ok := dp.Attributes().Get(attrs[i])
						if !ok || v.AsString() != attrs[i+1] {
							continue points
						}
					}
					n += dp.IntValue()
				}
			}
		}
	}
	return n
}

// payloadUsage is the usage object a delivered payload carried.
func payloadUsage(t *testing.T, body []byte) (session.UsageSummary, string, int64) {
	var p struct {
		SessionID string                `json:"sessionId"`
		Timestamp int64                 `json:"timestamp"`
		Usage     *session.UsageSummary `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(body, &p))
	require.NotNil(t, p.Usage, "payload without usage: %s", body)
	return *p.Usage, p.SessionID, p.Timestamp
}

// sameUsage compares an Option A usage object with the CLI's model
// metrics.
func sameUsage(t *testing.T, want map[string]modelMetric, got session.UsageSummary, msg string) {
	t.Helper()
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got.ModelMetrics)), msg)
	for m, w := range want {
		g := got.ModelMetrics[m]
		assert.Equal(t, w.Requests.Count, g.Requests.Count, "%s: %s requests", msg, m)
		assert.Equal(t, w.Requests.Cost, g.Requests.PremiumCost, "%s: %s premium cost", msg, m)
		assert.Equal(t, w.Usage.InputTokens, g.Usage.InputTokens, "%s: %s input", msg, m)
		assert.Equal(t, w.Usage.OutputTokens, g.Usage.OutputTokens, "%s: %s output", msg, m)
		assert.Equal(t, w.Usage.CacheReadTokens, g.Usage.CacheReadTokens, "%s: %s cache read", msg, m)
		assert.Equal(t, w.Usage.CacheWriteTokens, g.Usage.CacheWriteTokens, "%s: %s cache write", msg, m)
		assert.Equal(t, w.Usage.ReasoningTokens, g.Usage.ReasoningTokens, "%s: %s reasoning", msg, m)
		assert.Equal(t, int64(w.TotalNanoAiu), g.TotalNanoAIU, "%s: %s nano-AIU", msg, m)
	}
}

// TestRealCLI runs the scenarios with the collector up, then one with the
// collector stopped while the CLI runs and started afterwards.
func TestRealCLI(t *testing.T) {
	e := newEnv(t)
	th := e.installThreshold()
	e.startCollector()

	var ids []string
	began := time.Now()
	ids = append(ids, e.copilot("Do the task [scenario:"+fakeprovider.ScenarioSimple+"]", ""))
	t.Logf("a session with the collector up took %s", time.Since(began).Round(time.Millisecond))
	for _, sc := range []string{
		fakeprovider.ScenarioEdit,
		fakeprovider.ScenarioSubagent,
		fakeprovider.ScenarioFlaky,
		fakeprovider.ScenarioMulti,
	} {
		ids = append(ids, e.copilot("Do the task [scenario:"+sc+"]", ""))
	}
	resumed := ids[len(ids)-1]
	e.copilot("continue [scenario:"+fakeprovider.ScenarioContinue+"]", resumed)

	// Phase 2: the collector is down while the CLI runs.
	e.waitSpoolEmpty(30 * time.Second)
	e.stopCollector()
	start := time.Now()
	down := e.copilot("Do the task [scenario:"+fakeprovider.ScenarioSimple+"]", "")
	t.Logf("a session with the collector down took %s", time.Since(start).Round(time.Millisecond))
	ids = append(ids, down)
	spooled := e.spoolFiles()
	require.NotEmpty(t, spooled, "the forwarder spooled nothing while the collector was down")
	e.startCollector()
	// The background drainer waits for the collector's health and
	// replays the spool; no hook fires to trigger it.
	e.waitSpoolEmpty(90 * time.Second)
	// Let the tailer read the last transcript, then stop to flush.
	time.Sleep(2 * time.Second)
	e.stopCollector()

	// Every hook the CLI fired arrived, exactly once (a retried payload
	// keeps its id).
	delivered := e.proxy.delivered()
	var fired, arrived []string
	want := totals{}
	var sessionEnds int
	for _, id := range ids {
		tr := e.readTranscript(id)
		for _, f := range tr.Fired {
			fired = append(fired, f.String())
		}
		for m, v := range tr.Final {
			add(want, m, v)
		}
	}
	byType := map[string]int64{}
	for _, d := range delivered {
		typ := strings.TrimPrefix(d.Path, "/v1/hooks/")
		var p struct {
			SessionID string `json:"sessionId"`
		}
		require.NoError(t, json.Unmarshal(d.Body, &p))
		arrived = append(arrived, firedHook{typ, p.SessionID}.String())
		byType[typ]++
	}
	slices.Sort(fired)
	slices.Sort(arrived)
	assert.Equal(t, fired, arrived, "hooks fired (transcripts' hook.start) and hooks the collector accepted")
	for _, typ := range []string{"sessionStart", "sessionEnd", "userPromptSubmitted", "preToolUse", "postToolUse", "agentStop", "subagentStart", "subagentStop", "errorOccurred"} {
		assert.Positive(t, byType[typ], "no %s hook in the scenarios", typ)
	}

	// The witness saw what the forwarder forwarded.
	for typ, n := range byType {
		assert.Equal(t, n, int64(countLines(t, filepath.Join(e.out, "witness", typ+".jsonl"))), "witness %s", typ)
	}

	// sessionEnd and the session's last agentStop carry the CLI's own
	// final accounting.
	for _, id := range ids {
		tr := e.readTranscript(id)
		require.NotZero(t, tr.Shutdowns, id)
		var lastStop, lastEnd *recorded
		for _, d := range delivered {
			if d.Path != "/v1/hooks/sessionEnd" && d.Path != "/v1/hooks/agentStop" {
				continue
			}
			_, sid, ts := payloadUsage(t, d.Body)
			if sid != id {
				continue
			}
			d := d
			switch d.Path {
			case "/v1/hooks/sessionEnd":
				if lastEnd == nil || ts > tsOf(t, lastEnd.Body) {
					lastEnd = &d
				}
			case "/v1/hooks/agentStop":
				if lastStop == nil || ts > tsOf(t, lastStop.Body) {
					lastStop = &d
				}
			}
		}
		require.NotNil(t, lastEnd, "no sessionEnd for %s", id)
		require.NotNil(t, lastStop, "no agentStop for %s", id)
		u, _, _ := payloadUsage(t, lastEnd.Body)
		sameUsage(t, tr.Final, u, "sessionEnd of "+id)
		sessionEnds++
		u, _, _ = payloadUsage(t, lastStop.Body)
		sameUsage(t, tr.Final, u, "last agentStop of "+id)
	}

	// The collector's totals are the CLI's; nothing was counted twice
	// although hooks and transcripts both reported.
	md := e.readMetrics()
	assert.Equal(t, want, exported(md), "exported usage by model")
	var toolCalls, starts, resumes, shutdowns int64
	for _, id := range ids {
		tr := e.readTranscript(id)
		toolCalls += int64(tr.ToolCalls)
		starts += int64(tr.Starts)
		resumes += int64(tr.Resumes)
		shutdowns += int64(tr.Shutdowns)
	}
	assert.Equal(t, toolCalls, sumMetric(md, "copilot.tool.calls"))
	assert.Equal(t, starts, sumMetric(md, "copilot.sessions", "copilot.session.state", "started"))
	assert.Equal(t, resumes, sumMetric(md, "copilot.sessions", "copilot.session.state", "resumed"))
	assert.Equal(t, shutdowns, sumMetric(md, "copilot.sessions", "copilot.session.state", "ended"))
	assert.Equal(t, int64(len(delivered)), sumMetric(md, "copilot.hook.invocations"), "hook invocations")
	for typ, n := range byType {
		assert.Equal(t, n, sumMetric(md, "copilot.hook.invocations", "copilot.hook.type", typ), typ)
	}
	assert.Equal(t, byType["errorOccurred"], sumMetric(md, "copilot.errors", "copilot.error.context", "model_call"))

	// A session.end record per sessionEnd, with the reason the transcript
	// does not keep.
	ends := 0
	for _, rl := range e.readLogs().ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.EventName() == "copilot.session.end" {
					ends++
					r, _ := lr.Attributes().Get("copilot.session.end_reason")
					assert.NotEmpty(t, r.Str())
				}
			}
		}
	}
	assert.Equal(t, int(byType["sessionEnd"]), ends)
	assert.Equal(t, len(ids), sessionEnds)

	e.checkLiveUsage(ids, th)
}

func tsOf(t *testing.T, body []byte) int64 {
	_, _, ts := payloadUsage(t, body)
	return ts
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	return n
}

func (e *env) spoolFiles() []string {
	var out []string
	_ = filepath.WalkDir(filepath.Join(e.state, "spool"), func(p string, d os.DirEntry, err error) error {
		// Pending payloads (.hook) and ones being sent (.hook.claim-...).
		if err == nil && !d.IsDir() && strings.Contains(filepath.Base(p), ".hook") && !strings.Contains(p, "rejected") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func (e *env) waitSpoolEmpty(limit time.Duration) {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return len(e.spoolFiles()) == 0 }, limit, 100*time.Millisecond,
		"the spool did not drain: %v", e.spoolFiles())
}
