package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

//go:embed gateway.yaml shapes/*.yaml shapes/common.tmpl
var configFS embed.FS

// signals are the gateway's output files, one per signal.
var signals = []string{"metrics", "traces", "logs"}

// configData fills the configuration templates.
type configData struct {
	GatewayPort   int
	TelemetryPort int
	StateDir      string // the agent's file_storage
	Include       string // the agent's transcript glob
	OutDir        string // the gateway's files
	Signals       []string
	// Ledger: the gateway also prices the metrics with the chargeback
	// processor and keeps a usage ledger (usage_ledger) in OutDir/ledger.
	Ledger bool
}

// shapeNames lists the committed shapes, sorted.
func shapeNames() []string {
	entries, _ := configFS.ReadDir("shapes")
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// renderConfig fills the named template (gateway.yaml or shapes/<shape>.yaml).
func renderConfig(name string, d configData) ([]byte, error) {
	t := template.New(filepath.Base(name)).Option("missingkey=error")
	t, err := t.ParseFS(configFS, name, "shapes/common.tmpl")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, filepath.Base(name), d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// process is one collector process (agent or gateway) over its successive
// lives: each start is a new life with its own log file.
type process struct {
	name   string
	binary string
	config string
	env    []string
	logDir string

	mu    sync.Mutex
	cmd   *exec.Cmd
	exit  chan struct{} // closed when the current life exits
	err   error         // the current life's exit
	lives int
	// expected is set while the harness itself stops the process, so that
	// an exit it did not cause is told apart.
	expected bool
}

// start begins a new life.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	p.lives++
	logf, err := os.Create(filepath.Join(p.logDir, fmt.Sprintf("%s-%03d.log", p.name, p.lives)))
	if err != nil {
		return err
	}
	cmd := exec.Command(p.binary, "--config", p.config)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exit := make(chan struct{})
	p.cmd, p.exit, p.expected, p.err = cmd, exit, false, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exit)
	}()
	return nil
}

// running reports whether the current life has not exited.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exit:
		return false
	default:
		return true
	}
}

// unexpectedExit returns the error of a life that ended without the
// harness stopping it, with the end of its log.
func (p *process) unexpectedExit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.expected {
		return nil
	}
	select {
	case <-p.exit:
		return fmt.Errorf("%s exited by itself (%v); end of its log:\n%s", p.name, p.err, p.logTail())
	default:
		return nil
	}
}

// logTail is the end of the current life's log.
func (p *process) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.logDir, fmt.Sprintf("%s-%03d.log", p.name, p.lives)))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitLog waits until the current life's log contains s.
func (p *process) waitLog(ctx context.Context, s string) error {
	p.mu.Lock()
	path := filepath.Join(p.logDir, fmt.Sprintf("%s-%03d.log", p.name, p.lives))
	p.mu.Unlock()
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
			return nil
		}
		if err := p.unexpectedExit(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not log %q: %w", p.name, s, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readyLine is what the collector logs once every component has started;
// it handles SIGTERM gracefully only from then on (before, SIGTERM ends
// the process at once, as SIGKILL would).
const readyLine = "Everything is ready"

// signal sends sig to the current life (by its process id).
func (p *process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s: not running", p.name)
	}
	return p.cmd.Process.Signal(sig)
}

// stopped says how a life ended.
type stopped struct {
	InTime bool // within the timeout; else it was killed
	// Signaled: a graceful stop ended the process by the signal's default
	// action, without a graceful shutdown.
	Signaled bool
}

// stop sends sig and waits for the life to end, as long as timeout allows;
// then it is killed.
func (p *process) stop(sig syscall.Signal, timeout time.Duration) (stopped, error) {
	p.mu.Lock()
	if p.cmd == nil {
		p.mu.Unlock()
		return stopped{InTime: true}, nil
	}
	p.expected = true
	cmd, exit := p.cmd, p.exit
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	// A stopped process (SIGSTOP) only acts on SIGTERM once continued.
	_ = cmd.Process.Signal(syscall.SIGCONT)
	inTime := true
	select {
	case <-exit:
	case <-time.After(timeout):
		inTime = false
		_ = cmd.Process.Kill()
		<-exit
	}
	p.mu.Lock()
	err := p.err
	p.cmd = nil
	p.mu.Unlock()
	st := stopped{InTime: inTime}
	// Killed by a signal is what was asked; a graceful stop must exit 0.
	if sig == syscall.SIGTERM && inTime && err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				st.Signaled = true
				return st, nil
			}
		}
		return st, fmt.Errorf("%s: graceful stop failed (%v); end of its log:\n%s", p.name, err, p.logTail())
	}
	return st, nil
}

// waitListening waits until something accepts connections on the port.
func waitListening(ctx context.Context, port int, p *process) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if err := p.unexpectedExit(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not listen on %s: %w", p.name, addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// scrape reads a Prometheus endpoint and sums the samples of each metric
// family whose name starts with one of prefixes, by prefix.
func scrape(ctx context.Context, url string, prefixes ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		for _, p := range prefixes {
			if !strings.HasPrefix(l, p) {
				continue
			}
			fs := strings.Fields(l)
			if v, err := strconv.ParseFloat(fs[len(fs)-1], 64); err == nil {
				out[p] += v
			}
		}
	}
	return out, nil
}

// fileSizes returns the sizes of the gateway's files.
func fileSizes(dir string) map[string]int64 {
	out := map[string]int64{}
	for _, s := range signals {
		if st, err := os.Stat(filepath.Join(dir, s+".jsonl")); err == nil {
			out[s] = st.Size()
		} else if !errors.Is(err, os.ErrNotExist) {
			out[s] = -1
		}
	}
	return out
}
