package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeprovider"
)

const (
	repoRel    = "src/payments-api"
	branch     = "feature/PAY-4411-refund-retries"
	model      = "gpt-4.1"
	recordFile = "recording.json"
)

type recorder struct {
	cliDir, cacheDir, out, home string
	timeout                     time.Duration
	verbose                     bool
}

// recording is what <out>/<case>/recording.json says about how a case was
// made: what the recorder did and what the fake provider answered. The
// transcripts themselves are the CLI's.
type recording struct {
	Case     string         `json:"case"`
	Sessions []string       `json:"sessions"`
	Legs     []legResult    `json:"legs"`
	Provider []providerCall `json:"providerRequests"`
}

type legResult struct {
	Version  string `json:"version"`
	Scenario string `json:"scenario"`
	Prompt   string `json:"prompt"`
	Resumed  bool   `json:"resumed"`
	Stop     string `json:"stop,omitempty"`
	// Signals lists the signals the recorder sent, with the time since the
	// start of the run in milliseconds.
	Signals []string `json:"signals,omitempty"`
	Exit    string   `json:"exit"`
	// Requests and Completions count the HTTP requests the fake provider
	// received during the leg and those answered with a chat completion
	// (HTTP 200).
	Requests    int `json:"providerRequests"`
	Completions int `json:"completions"`
	// Leftover counts processes the CLI started that were still running
	// after it exited and were killed by the recorder.
	Leftover int `json:"leftoverProcessesKilled,omitempty"`
}

type providerCall struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Scenario string `json:"scenario,omitempty"`
	Subagent bool   `json:"subagent,omitempty"`
	Step     int    `json:"step"`
	Status   int    `json:"status"`
	Action   string `json:"action"`
}

// prepare checks that every CLI the cases need is installed and that HOME
// is usable.
func (r *recorder) prepare(cases []caseDef) error {
	for _, c := range cases {
		for _, l := range c.Legs {
			if _, err := os.Stat(r.bin(l.Version)); err != nil {
				return fmt.Errorf("case %s: CLI %s not installed: %w", c.Name, l.Version, err)
			}
		}
	}
	if r.home == "/" || r.home == "" {
		return errors.New("refusing to use / as HOME")
	}
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		return err
	}
	return os.MkdirAll(r.out, 0o755)
}

func (r *recorder) bin(version string) string {
	return filepath.Join(r.cliDir, version, "node_modules", ".bin", "copilot")
}

func (r *recorder) repo() string { return filepath.Join(r.home, filepath.FromSlash(repoRel)) }

func (r *recorder) stateDir() string { return filepath.Join(r.home, ".copilot", "session-state") }

// resetHome removes the CLI's state and the repository left by the previous
// case and creates the repository afresh: one empty commit on the feature
// branch, with fixed author and dates so that its head commit is the same in
// every recording, and an untracked empty src/ for the edit scenario.
func (r *recorder) resetHome() error {
	for _, d := range []string{filepath.Join(r.home, ".copilot"), r.repo()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(r.repo(), "src"), 0o755); err != nil {
		return err
	}
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = r.repo()
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + r.home,
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_AUTHOR_DATE=2026-01-05T09:00:00Z",
			"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_COMMITTER_DATE=2026-01-05T09:00:00Z",
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := git("init", "-q", "-b", branch); err != nil {
		return err
	}
	return git("commit", "-q", "--allow-empty", "-m", "Initial commit")
}

// env is the whole environment of the CLI: nothing of the recorder's own
// environment but a plain PATH that finds node.
func (r *recorder) env(url string) []string {
	path := []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
	if node, err := exec.LookPath("node"); err == nil {
		dir := filepath.Dir(node)
		found := false
		for _, p := range path {
			found = found || p == dir
		}
		if !found {
			path = append([]string{dir}, path...)
		}
	}
	return []string{
		"PATH=" + strings.Join(path, ":"),
		"HOME=" + r.home,
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"COPILOT_OFFLINE=true",
		"COPILOT_PROVIDER_BASE_URL=" + url,
		"COPILOT_MODEL=" + model,
		"COPILOT_ALLOW_ALL=true",
		"COPILOT_AUTO_UPDATE=false",
		"COPILOT_CACHE_HOME=" + r.cacheDir,
	}
}

// record runs one case and replaces <out>/<case> with what it produced.
func (r *recorder) record(c caseDef) error {
	if err := r.resetHome(); err != nil {
		return err
	}
	fp := fakeprovider.New(fakeprovider.Options{})
	if err := fp.Start(); err != nil {
		return err
	}
	defer fp.Close()

	rec := recording{Case: c.Name}
	sessionID := ""
	for i, l := range c.Legs {
		if l.Resume && sessionID == "" {
			return fmt.Errorf("leg %d resumes, but no session was started", i+1)
		}
		seen := len(fp.Requests())
		res, id, err := r.runLeg(l, sessionID, fp.URL())
		for _, q := range fp.Requests()[seen:] {
			res.Requests++
			if q.Status == 200 && strings.HasSuffix(q.Path, "/chat/completions") {
				res.Completions++
			}
		}
		rec.Legs = append(rec.Legs, res)
		if err != nil {
			return fmt.Errorf("leg %d (%s %s): %w", i+1, l.Version, l.Scenario, err)
		}
		sessionID = id
		log.Printf("%s: leg %d: %s %s session %s: %s", c.Name, i+1, l.Version, l.Scenario, id, res.Exit)
	}
	if err := fp.Close(); err != nil {
		return err
	}
	for _, q := range fp.Requests() {
		rec.Provider = append(rec.Provider, providerCall{
			Method: q.Method, Path: q.Path, Scenario: q.Scenario, Subagent: q.Subagent,
			Step: q.Step, Status: q.Status, Action: q.Action,
		})
	}

	ids, err := sessionDirs(r.stateDir())
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("the CLI left no session")
	}
	rec.Sessions = ids

	dst := filepath.Join(r.out, c.Name)
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, id := range ids {
		if err := r.copySession(id, filepath.Join(dst, "session-state", id)); err != nil {
			return fmt.Errorf("session %s: %w", id, err)
		}
	}
	if _, err := r.copyStore(dst); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, recordFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return r.checkPaths(dst)
}

// sessionDirs lists the session ids under session-state (newer CLIs also
// keep a .session-operation-locks directory there).
func sessionDirs(state string) ([]string, error) {
	ents, err := os.ReadDir(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// copySession copies events.jsonl, with the system prompts replaced, and
// workspace.yaml as it is.
func (r *recorder) copySession(id, dst string) error {
	src := filepath.Join(r.stateDir(), id)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	events, err := os.ReadFile(filepath.Join(src, "events.jsonl"))
	if err != nil {
		return err
	}
	redacted, n, err := redactTranscript(events)
	if err != nil {
		return err
	}
	if r.verbose {
		log.Printf("session %s: %d system prompt(s) replaced", id, n)
	}
	if err := os.WriteFile(filepath.Join(dst, "events.jsonl"), redacted, 0o644); err != nil {
		return err
	}
	ws, err := os.ReadFile(filepath.Join(src, "workspace.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "workspace.yaml"), ws, 0o644)
}

// checkPaths fails when a recorded file names a directory of the machine
// the recording was made on (the CLI installation, its cache, the output
// or working directory, the temporary directory) rather than HOME.
func (r *recorder) checkPaths(dir string) error {
	bad := []string{r.cliDir, r.cacheDir, r.out}
	if wd, err := os.Getwd(); err == nil && !strings.HasPrefix(r.home, wd) {
		bad = append(bad, wd)
	}
	if tmp := filepath.Clean(os.TempDir()) + "/"; !strings.HasPrefix(r.home+"/", tmp) {
		bad = append(bad, tmp)
	}
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range bad {
			if bytes.Contains(b, []byte(s)) {
				return fmt.Errorf("%s contains %q", p, s)
			}
		}
		return nil
	})
}

// runLeg runs the CLI once. sessionID is the session to resume, if the
// leg resumes; the returned id is the session the leg ran.
func (r *recorder) runLeg(l leg, sessionID, url string) (legResult, string, error) {
	res := legResult{Version: l.Version, Scenario: l.Scenario, Prompt: l.prompt(), Resumed: l.Resume, Stop: l.Stop.String()}
	before, err := sessionDirs(r.stateDir())
	if err != nil {
		return res, "", err
	}
	var offset int64 // transcript bytes written before this leg
	if l.Resume {
		if fi, err := os.Stat(filepath.Join(r.stateDir(), sessionID, "events.jsonl")); err == nil {
			offset = fi.Size()
		}
	}

	args := []string{"-p", l.prompt(), "--allow-all-tools"}
	if l.Resume {
		args = append([]string{"--resume", sessionID}, args...)
	}
	cmd := exec.Command(r.bin(l.Version), args...)
	cmd.Dir = r.repo()
	cmd.Env = r.env(url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var output lockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, "", err
	}
	pid := cmd.Process.Pid
	tree := newProcTree(pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	signal := func(sig syscall.Signal) {
		res.Signals = append(res.Signals, fmt.Sprintf("%s after %d ms", sigName(sig), time.Since(start).Milliseconds()))
		_ = syscall.Kill(-pid, sig)
		if sig == syscall.SIGKILL {
			tree.killAll()
		}
	}

	limit := time.NewTimer(r.timeout)
	defer limit.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var (
		waitErr   error
		exited    bool
		triggered bool
		timedOut  bool
		graceEnd  <-chan time.Time
		graceStep int
	)
	for !exited {
		select {
		case waitErr = <-done:
			exited = true
		case <-limit.C:
			timedOut = true
			signal(syscall.SIGKILL)
		case <-graceEnd:
			// the CLI did not exit after an interrupt
			graceStep++
			if graceStep == 1 {
				signal(syscall.SIGINT)
				graceEnd = time.After(30 * time.Second)
			} else {
				signal(syscall.SIGKILL)
				graceEnd = nil
			}
		case <-tick.C:
			tree.scan()
			if l.Stop == stopNone || triggered {
				continue
			}
			if !toolStarted(r.stateDir(), sessionID, offset) {
				continue
			}
			triggered = true
			switch l.Stop {
			case stopKill:
				signal(syscall.SIGKILL)
			case stopInterrupt:
				// let the tool run a moment, then interrupt the whole
				// process group as a terminal's Ctrl-C would
				time.Sleep(time.Second)
				tree.scan()
				signal(syscall.SIGINT)
				graceEnd = time.After(30 * time.Second)
			}
		}
	}
	res.Leftover = tree.killAll()
	res.Exit = exitString(waitErr)
	if r.verbose || timedOut || (waitErr != nil && l.Stop == stopNone) {
		log.Printf("output of %s %s:\n%s", l.Version, l.prompt(), output.String())
	}
	if timedOut {
		return res, "", fmt.Errorf("timed out after %s", r.timeout)
	}
	if l.Stop != stopNone && !triggered {
		return res, "", errors.New("the CLI exited before a tool started")
	}
	if l.Stop == stopNone && waitErr != nil {
		return res, "", fmt.Errorf("CLI failed: %v", waitErr)
	}

	if l.Resume {
		return res, sessionID, nil
	}
	after, err := sessionDirs(r.stateDir())
	if err != nil {
		return res, "", err
	}
	var fresh []string
	for _, id := range after {
		if !contains(before, id) {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) != 1 {
		return res, "", fmt.Errorf("expected one new session, found %v", fresh)
	}
	return res, fresh[0], nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// toolStarted reports whether a tool.execution_start event was written
// after offset, in the session's transcript or, for a new session, in any.
func toolStarted(state, sessionID string, offset int64) bool {
	var files []string
	if sessionID != "" {
		files = []string{filepath.Join(state, sessionID, "events.jsonl")}
	} else {
		files, _ = filepath.Glob(filepath.Join(state, "*", "events.jsonl"))
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		_, _ = fh.Seek(offset, io.SeekStart)
		b, _ := io.ReadAll(fh)
		fh.Close()
		if bytes.Contains(b, []byte(`"type":"tool.execution_start"`)) {
			return true
		}
	}
	return false
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + sigName(ws.Signal())
		}
		return ee.Error()
	}
	return err.Error()
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
