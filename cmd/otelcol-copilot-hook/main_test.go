package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// TestMain makes the test binary run the command when asked, so that the
// tests can run it as a process, as the CLI does.
func TestMain(m *testing.M) {
	if os.Getenv("OTELCOL_COPILOT_HOOK_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// command returns the command line running this program with args.
func command(t *testing.T, stateDir string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "OTELCOL_COPILOT_HOOK_TEST_RUN_MAIN=1", "OTELCOL_COPILOT_STATE_DIR="+stateDir,
		"OTELCOL_COPILOT_ENDPOINT=", "OTELCOL_COPILOT_TOKEN=", "OTELCOL_COPILOT_TOKEN_FILE=", "OTELCOL_COPILOT_SPOOL_DIR=")
	return cmd
}

func deadEndpoint(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

func testdata(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "copilot-cli")
}

// TestForwardNeverFails runs forward as a process on bad input, bad flags
// and a collector that is not there: it always exits 0 and writes nothing
// to stdout.
func TestForwardNeverFails(t *testing.T) {
	dead := deadEndpoint(t)
	for name, tc := range map[string]struct {
		args  []string
		stdin string
	}{
		"garbage, collector down": {[]string{"forward", "agentStop", "--endpoint", dead, "--no-drainer"}, "\x00\xff garbage {{{"},
		"payload, collector down": {[]string{"forward", "sessionStart", "--endpoint", dead, "--no-drainer"}, `{"sessionId":"s","timestamp":1}`},
		"empty stdin":             {[]string{"forward", "agentStop", "--endpoint", dead}, ""},
		"unknown hook type":       {[]string{"forward", "somethingNew", "--endpoint", dead}, `{"sessionId":"s"}`},
		"no hook type":            {[]string{"forward"}, `{"sessionId":"s"}`},
		"bad flag":                {[]string{"forward", "agentStop", "--no-drainer", "--timeout", "soon", "--endpoint", dead}, `{"sessionId":"s"}`},
		"bad endpoint":            {[]string{"forward", "agentStop", "--endpoint", "not a url", "--no-drainer"}, `{"sessionId":"s"}`},
		"unreadable token file":   {[]string{"forward", "agentStop", "--endpoint", dead, "--token-file", "/nonexistent/token", "--no-drainer"}, `{"sessionId":"s"}`},
		"spool dir is a file":     {[]string{"forward", "agentStop", "--endpoint", dead, "--spool-dir", "/dev/null", "--no-drainer"}, `{"sessionId":"s"}`},
	} {
		state := t.TempDir()
		cmd := command(t, state, tc.args...)
		cmd.Stdin = strings.NewReader(tc.stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: %v (stderr %s)", name, err, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: wrote to stdout: %q", name, stdout.String())
		}
		log, _ := os.ReadFile(filepath.Join(state, "hook.log"))
		if len(log) == 0 {
			t.Errorf("%s: nothing logged", name)
		}
		t.Logf("%-24s exit 0 in %6.1f ms; log: %s", name, float64(took.Microseconds())/1000, firstLine(log))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// TestForwardProcessDelivers runs forward as a process against a stand-in
// collector, with a real transcript.
func TestForwardProcessDelivers(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		if r.URL.Path != "/v1/hooks/agentStop" || r.Header.Get("Authorization") != "Bearer tok" || len(r.Header.Get("X-Copilot-Hook-Id")) != 32 ||
			r.Header.Get("X-Copilot-Hook-Client") == "" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	state := t.TempDir()
	tok := filepath.Join(state, "token")
	if err := os.WriteFile(tok, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(testdata(t), "1.0.102")
	id := "f6f52fa3-9552-4207-8d6e-47987374b948"
	cmd := command(t, state, "forward", "agentStop", "--endpoint", srv.URL, "--token-file", tok, "--copilot-home", home)
	cmd.Stdin = strings.NewReader(`{"sessionId":"` + id + `","timestamp":1795363648072,"cwd":"/x","stopReason":"end_turn"}`)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Run(); err != nil || stdout.Len() != 0 {
		t.Fatalf("%v %q", err, stdout.String())
	}
	t.Logf("forward with usage, delivered: %.1f ms", float64(time.Since(start).Microseconds())/1000)
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d requests", len(bodies))
	}
	var p struct {
		Usage session.UsageSummary `json:"usage"`
	}
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	want := fullUsage(t, filepath.Join(home, "session-state", id, "events.jsonl"), id)
	if diff := cmp.Diff(want, p.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if p.Usage.CodeChanges.LinesAdded == 0 {
		t.Error("the edit session changed no lines?")
	}
}

func fullUsage(t *testing.T, path, id string) session.UsageSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := transcript.NewReader(f, 0, 0, transcript.Options{})
	tr := session.New(id, session.Options{})
	for {
		it, err := rd.Next()
		if err != nil {
			break
		}
		if it.Event != nil {
			tr.Apply(it.Event, nil)
		}
	}
	return tr.Summary()
}

// TestUsageCommand checks Option B: the variables eval in bash, and the
// JSON is the Option A object.
func TestUsageCommand(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	base := filepath.Join(testdata(t), "1.0.102-billed", "session-state")
	ents, err := os.ReadDir(base)
	if err != nil || len(ents) == 0 {
		t.Fatal(err)
	}
	id := ents[0].Name()
	path := filepath.Join(base, id, "events.jsonl")
	want := fullUsage(t, path, id)
	state := t.TempDir()
	exe, _ := os.Executable()

	script := `eval "$("$BIN" usage --session "$ID" --copilot-home "$HOMEDIR")" && echo "$COPILOT_SESSION_INPUT_TOKENS $COPILOT_SESSION_AI_CREDITS $COPILOT_SESSION_MODEL $COPILOT_SESSION_ID"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "OTELCOL_COPILOT_HOOK_TEST_RUN_MAIN=1", "OTELCOL_COPILOT_STATE_DIR="+state,
		"BIN="+exe, "ID="+id, "HOMEDIR="+filepath.Dir(base))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 4 || fields[0] != strconv.FormatInt(want.TokenDetails.Input, 10) || fields[1] != forwarder.Credits(want.TotalNanoAIU) || fields[3] != id {
		t.Fatalf("eval gave %q; want input %d, credits %s", out, want.TokenDetails.Input, forwarder.Credits(want.TotalNanoAIU))
	}
	if want.TotalNanoAIU == 0 || !strings.Contains(fields[1], ".") && want.TotalNanoAIU%1e9 != 0 {
		t.Errorf("billed session: credits %s from %d nano-AIU", fields[1], want.TotalNanoAIU)
	}
	t.Logf("eval: %s", strings.TrimSpace(string(out)))

	// Every line is NAME='value'.
	var stdout, stderr bytes.Buffer
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", state)
	if code := run([]string{"usage", "--session", id, "--transcript", path}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) < 17 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout.String())
	}
	for _, l := range lines {
		name, value, ok := strings.Cut(l, "=")
		if !ok || !strings.HasPrefix(name, "COPILOT_SESSION_") || !strings.HasPrefix(value, "'") || !strings.HasSuffix(value, "'") {
			t.Errorf("line %q", l)
		}
	}

	stdout.Reset()
	if code := run([]string{"usage", "--session", id, "--transcript", path, "--format", "json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got session.UsageSummary
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no session":    {[]string{"usage"}, "--session is required"},
		"no transcript": {[]string{"usage", "--session", "nope", "--copilot-home", state}, filepath.Join(state, "session-state", "nope", "events.jsonl")},
		"bad format":    {[]string{"usage", "--session", id, "--format", "yaml"}, `--format "yaml"`},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(tc.args, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q, want it to name %q", name, code, stderr.String(), tc.want)
		}
	}
}

func TestInstallCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("COPILOT_HOME", home)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"install", "--endpoint", "http://127.0.0.1:4320", "--timeout-sec", "3"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "wrote "+filepath.Join(home, "hooks", "otelcol-copilot.json")) {
		t.Errorf("stdout %q", stdout.String())
	}
	first, _ := os.ReadFile(filepath.Join(home, "hooks", "otelcol-copilot.json"))
	exe, _ := os.Executable()
	if !bytes.Contains(first, []byte(forwarder.ShellQuote(exe)+" forward sessionStart --endpoint 'http://127.0.0.1:4320'")) {
		t.Errorf("hook file:\n%s", first)
	}
	stdout.Reset()
	if code := run([]string{"install", "--endpoint", "http://127.0.0.1:4320", "--timeout-sec", "3"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "nothing changed") {
		t.Fatalf("second install: exit %d, %q", code, stdout.String())
	}
	if again, _ := os.ReadFile(filepath.Join(home, "hooks", "otelcol-copilot.json")); !bytes.Equal(first, again) {
		t.Error("second install changed the file")
	}
	stderr.Reset()
	if code := run([]string{"install", "--endpoint", "localhost:4320"}, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--endpoint") {
		t.Errorf("bad endpoint: exit %d, %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"uninstall"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "removed") {
		t.Fatalf("uninstall: exit %d, %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"uninstall"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "nothing changed") {
		t.Fatalf("second uninstall: exit %d, %q", code, stdout.String())
	}
}

// TestDrainCommand: drain sends the spooled payloads to the collector
// they were spooled for, exits 1 while it keeps some, and names those
// that wait for another endpoint, which it does not send.
func TestDrainCommand(t *testing.T) {
	state := t.TempDir()
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", state)
	var mu sync.Mutex
	up, n := false, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		n++
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	for i := 0; i < 3; i++ {
		cmd := command(t, state, "forward", "userPromptSubmitted", "--endpoint", srv.URL, "--no-drainer")
		cmd.Stdin = strings.NewReader(`{"sessionId":"s","timestamp":1,"prompt":"hi"}`)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drain", "--endpoint", srv.URL, "--timeout", "100ms"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "kept 3") {
		t.Fatalf("drain with the collector down: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	mu.Lock()
	up = true
	mu.Unlock()
	other := deadEndpoint(t)
	stdout.Reset()
	if code := run([]string{"drain", "--endpoint", other, "--timeout", "100ms"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "also 3 payloads for another endpoint, "+srv.URL) || !strings.Contains(stdout.String(), "drain --endpoint "+srv.URL) {
		t.Fatalf("drain for another endpoint: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"drain", "--endpoint", srv.URL}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "delivered 3") {
		t.Fatalf("drain: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 3 {
		t.Fatalf("the collector got %d payloads, want 3", n)
	}
	t.Logf("%s", stdout.String())
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(nil, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "forward <hookType>") {
		t.Errorf("no args: %d %q", code, stderr.String())
	}
	if code := run([]string{"frobnicate"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	stdout.Reset()
	if code := run([]string{"version"}, nil, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "otelcol-copilot-hook ") {
		t.Errorf("version: %d %q", code, stdout.String())
	}
}

// TestForwardStartsDrainer: a forward that leaves its payload in the spool
// starts one drainer in the background, which delivers it once the
// collector is back, with no further hook; the forward itself does not
// wait for it.
func TestForwardStartsDrainer(t *testing.T) {
	var mu sync.Mutex
	up := false
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/v1/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	state := t.TempDir()
	for i := 0; i < 3; i++ {
		cmd := command(t, state, "forward", "sessionEnd", "--endpoint", srv.URL)
		cmd.Stdin = strings.NewReader(`{"sessionId":"s","reason":"complete","n":` + strconv.Itoa(i) + `}`)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout // Run returns only once every holder of the pipe is gone
		start := time.Now()
		if err := cmd.Run(); err != nil || stdout.Len() != 0 {
			t.Fatalf("%v %q", err, stdout.String())
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("forward took %s: it waited for the drainer", d)
		}
	}
	spooled, _ := filepath.Glob(filepath.Join(state, "spool", "*", "*.hook"))
	if len(spooled) != 3 {
		t.Fatalf("spooled %v", spooled)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		spooled, _ = filepath.Glob(filepath.Join(state, "spool", "*", "*.hook*"))
		if len(spooled) == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(state, "hook.log"))
			t.Fatalf("the spool was not drained: %v\n%s", spooled, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || !strings.Contains(got[0], `"n":0`) || !strings.Contains(got[2], `"n":2`) {
		t.Errorf("delivered %v", got)
	}
	log, _ := os.ReadFile(filepath.Join(state, "hook.log"))
	if n := strings.Count(string(log), "started drainer"); n != 1 {
		t.Errorf("%d drainers started:\n%s", n, log)
	}
	// The drainer ends once the spool is empty.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		log, _ = os.ReadFile(filepath.Join(state, "hook.log"))
		if strings.Contains(string(log), "drained the spool: 3 delivered, 0 dropped, 0 kept") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the drainer did not finish:\n%s", log)
		}
	}
}

// TestUsageCommandChargeback: Option B gains what a script needs without a
// collector: the session's ticket (from its branch, by the processor's
// rules), its cost so far in the configured currency, and its tokens.
func TestUsageCommandChargeback(t *testing.T) {
	id := "0b1e1ed0-5a1e-4c0d-9b11-000000000001" // feature/PAY-4411-refund-retries, 4,737,390,000 nano-AIU
	path := filepath.Join(testdata(t), "1.0.102-billed", "session-state", id, "events.jsonl")
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", t.TempDir())
	vars := func(args ...string) map[string]string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"usage", "--session", id, "--transcript", path}, args...), nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		out := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			name, value, _ := strings.Cut(l, "=")
			out[strings.TrimPrefix(name, "COPILOT_SESSION_")] = strings.Trim(value, "'")
		}
		return out
	}
	v := vars()
	for name, want := range map[string]string{
		"TICKET": "PAY-4411", "TEAM": "unattributed", "COST": "0.0473739", "CURRENCY": "USD",
		"TOTAL_TOKENS": "27497", "AI_CREDITS": "4.73739",
	} {
		if v[name] != want {
			t.Errorf("COPILOT_SESSION_%s = %q, want %q", name, v[name], want)
		}
	}
	cfg := filepath.Join(t.TempDir(), "chargeback.yaml")
	if err := os.WriteFile(cfg, []byte("attribution:\n  rules:\n    - name: all\n      set: {team: payments}\npricing: {billing: premium_requests, per_premium_request: \"0.04\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v = vars("--config", cfg)
	if v["TEAM"] != "payments" || v["COST"] != "0.04" {
		t.Errorf("with --config: team %q, cost %q; want payments, 0.04 (one premium request)", v["TEAM"], v["COST"])
	}
}

// TestStatusLine: given the JSON Copilot CLI 1.0.102 writes to a
// statusLine command's stdin (session_id, transcript_path, cwd, model,
// ...), one line: AI credits, cost, tokens and the ticket. Anything it
// cannot tell prints nothing and exits 0.
func TestStatusLine(t *testing.T) {
	id := "0b1e1ed0-5a1e-4c0d-9b11-000000000001" // 4,737,390,000 nano-AIU; 27,347 in, 150 out; feature/PAY-4411-...
	path := filepath.Join(testdata(t), "1.0.102-billed", "session-state", id, "events.jsonl")
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", t.TempDir())
	payload := `{"cwd":"/home/dev/src/payments-api","session_id":"` + id + `","session_name":null,"transcript_path":"` + path +
		`","model":{"id":"claude-sonnet-4.6","display_name":"Claude Sonnet 4.6"},"workspace":{"current_dir":"/home/dev/src/payments-api"},"username":"dev"}`
	var stdout, stderr bytes.Buffer
	if code := run([]string{"statusline"}, strings.NewReader(payload), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if want := "4.73739 credits · 0.0473739 USD · 27.5k tokens · PAY-4411\n"; stdout.String() != want {
		t.Errorf("status line %q, want %q", stdout.String(), want)
	}
	for _, bad := range []string{"", "not json", `{"cwd":"/x"}`, `{"session_id":"00000000-0000-4000-8000-000000000000"}`} {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"statusline", "--copilot-home", t.TempDir()}, strings.NewReader(bad), &stdout, &stderr); code != 0 || stdout.Len() != 0 {
			t.Errorf("payload %q: exit %d, printed %q", bad, code, stdout.String())
		}
	}
}

// TestUsageCommandFromStore: before the CLI has written the transcript,
// usage (Option B) gives the session store's usage and says so.
func TestUsageCommandFromStore(t *testing.T) {
	const id = "484fbd51-1aaf-45c3-b3ff-ae6ec8e80c30" // 4 calls, 16093 input tokens
	home := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "sessionstore", "testdata", "1.0.102", "session-store.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "session-store.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"usage", "--session", id, "--copilot-home", home}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"COPILOT_SESSION_REQUESTS='4'\n", "COPILOT_SESSION_INPUT_TOKENS='16093'\n", "COPILOT_SESSION_USAGE_SOURCE='store'\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if code := run([]string{"usage", "--session", id, "--copilot-home", home, "--format", "json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		session.UsageSummary
		Source string `json:"source"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Source != "store" || got.TokenDetails.Input != 16093 {
		t.Errorf("json: %s", stdout.String())
	}
}
