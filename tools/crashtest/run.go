package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/procstat"
)

// options are a run's settings (the flags).
type options struct {
	Collector    string // the agent: the laptop distribution
	Gateway      string // the gateway: file exporter, chargeback, usage_ledger
	Shape        string
	Sessions     int
	Seed         uint64
	Kills        int
	Sigterms     int
	GatewayKills int
	Stall        float64 // share of agent stops made while the gateway is paused
	MinDelay     time.Duration
	MaxDelay     time.Duration
	History      float64       // share of sessions on disk before the agent starts
	WriteTime    time.Duration // how long the rest is appended; 0: from the fault schedule
	Settle       time.Duration
	SettleMax    time.Duration
	TermTimeout  time.Duration
	Dir          string
	Keep         bool
	Ledger       bool      // the gateway keeps a usage ledger, judged too
	Log          io.Writer // progress; nil: none
}

// result is one shape's run.
type result struct {
	Shape      string
	Kills      int // agent SIGKILLs, including graceful stops that timed out
	Terms      int
	GwKills    int
	Stalled    int
	Faults     []fault
	Sessions   int
	Records    int
	Bytes      int64
	AgentLives int
	Wall       time.Duration
	CaughtUp   bool
	Verdict    *verdict
	Ledger     *verdict // the usage ledger's rows against the accounting, with -ledger
	LedgerRows int
	Dir        string
}

// failures lists why the result fails the exact criteria.
func (r *result) failures() []string {
	var out []string
	if !r.CaughtUp {
		out = append(out, "the agent did not catch up before the settle timeout")
	}
	var timeouts int
	for _, f := range r.Faults {
		if f.Timeout {
			timeouts++
		}
	}
	if timeouts > 0 {
		out = append(out, fmt.Sprintf("%d graceful stops did not end in time (the agent was killed)", timeouts))
	}
	out = append(out, r.Verdict.exactFailures(r.Kills)...)
	if l := r.Ledger; l != nil && (l.LostRecords+l.DupRecords+l.LostTokens+l.ExtraTokens+l.LostNanoAIU+l.ExtraNanoAIU > 0 || l.LostPremium+l.ExtraPremium > 1e-6 || l.UnknownSessions > 0) {
		out = append(out, fmt.Sprintf("the usage ledger differs from the accounting: %d records lost, %d counted twice, %d tokens lost, %d extra, %d nano-AIU lost, %d extra",
			l.LostRecords, l.DupRecords, l.LostTokens, l.ExtraTokens, l.LostNanoAIU, l.ExtraNanoAIU))
	}
	return out
}

func (o *options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// runShape runs one shape: corpus, gateway, agent, faults, settle, verdict.
func runShape(ctx context.Context, o options, shape string) (res *result, err error) {
	began := time.Now()
	work, err := os.MkdirTemp(o.Dir, "crashtest-"+shape+"-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if !o.Keep && err == nil && res != nil && len(res.failures()) == 0 {
			os.RemoveAll(work)
		}
	}()
	home := filepath.Join(work, "copilot")
	out := filepath.Join(work, "gateway-out")
	logs := filepath.Join(work, "logs")
	for _, d := range []string{out, logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	c, err := generate(filepath.Join(home, "session-state"), o.Sessions, o.Seed, o.History)
	if err != nil {
		return nil, err
	}
	resumed, subagents, killed, billed := c.kinds()
	o.logf("[%s] corpus: %d sessions (%d resumed, %d with subagents, %d killed without shutdown, %d billed), %d usage records, %.1f MB, in %s",
		shape, len(c.sessions), resumed, subagents, killed, billed, c.records, float64(c.bytes)/1e6, work)
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	if err := c.writeHistory(); err != nil {
		return nil, err
	}

	gwPort, err := procstat.FreePort()
	if err != nil {
		return nil, err
	}
	telPort, err := procstat.FreePort()
	if err != nil {
		return nil, err
	}
	data := configData{
		GatewayPort: gwPort, TelemetryPort: telPort,
		StateDir: filepath.Join(work, "agent-state"),
		Include:  filepath.Join(c.dir, "*", "events.jsonl"),
		OutDir:   out, Signals: signals, Ledger: o.Ledger,
	}
	gwCfg, err := writeConfig("gateway.yaml", data, filepath.Join(work, "gateway.yaml"))
	if err != nil {
		return nil, err
	}
	agentCfg, err := writeConfig("shapes/"+shape+".yaml", data, filepath.Join(work, "agent.yaml"))
	if err != nil {
		return nil, err
	}
	env := []string{"COPILOT_HOME=" + home, "OTELCOL_COPILOT_STATE_DIR=" + filepath.Join(work, "statedir")}
	gw := &process{name: "gateway", binary: o.Gateway, config: gwCfg, env: env, logDir: logs}
	agent := &process{name: "agent", binary: o.Collector, config: agentCfg, env: env, logDir: logs}
	defer func() {
		// Whatever happened, leave nothing running.
		_, _ = agent.stop(syscall.SIGKILL, 10*time.Second)
		_, _ = gw.stop(syscall.SIGKILL, 10*time.Second)
	}()
	if err := gw.start(); err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = waitListening(startCtx, gwPort, gw)
	cancel()
	if err != nil {
		return nil, err
	}

	r := rand.New(rand.NewPCG(o.Seed, 0xfa017))
	res = &result{Shape: shape, Sessions: len(c.sessions), Records: c.records, Bytes: c.bytes, Dir: work}
	h := &harness{o: o, res: res, gw: gw, agent: agent, out: out, gwPort: gwPort, began: began, lifeBegan: began}

	// The fault schedule: agent stops in random order, gateway kills spread
	// over the time the stops are expected to take.
	stops := make([]string, 0, o.Kills+o.Sigterms)
	for i := 0; i < o.Kills; i++ {
		stops = append(stops, faultKill)
	}
	for i := 0; i < o.Sigterms; i++ {
		stops = append(stops, faultTerm)
	}
	r.Shuffle(len(stops), func(i, j int) { stops[i], stops[j] = stops[j], stops[i] })
	// The live sessions are written as the agent stops go, so that every
	// life of the agent has new lines to read whatever the machine's speed:
	// the progress is the share of stops done, and within a life the share
	// of the mean delay that has passed. Without stops, or with
	// -write-time, it is the share of the write time that has passed.
	meanDelay := (o.MinDelay + o.MaxDelay) / 2
	phase := time.Duration(len(stops)) * (meanDelay + 400*time.Millisecond)
	write := o.WriteTime
	if write <= 0 {
		write = max(3*time.Second, phase*8/10)
	}
	c.schedule(r)
	var gwAt []time.Duration
	for i := 0; i < o.GatewayKills; i++ {
		gwAt = append(gwAt, time.Duration((0.1+0.8*r.Float64())*float64(max(phase, write))))
	}
	sort.Slice(gwAt, func(i, j int) bool { return gwAt[i] < gwAt[j] })

	if err := agent.start(); err != nil {
		return nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	writeBegan := time.Now()
	progress := func() float64 {
		if len(stops) == 0 || o.WriteTime > 0 {
			return float64(time.Since(writeBegan)) / float64(write)
		}
		done, life := h.progress()
		return (float64(done) + min(1, float64(life)/float64(meanDelay))) / float64(len(stops))
	}
	go func() {
		defer wg.Done()
		if err := c.writeLive(runCtx, 20*time.Millisecond, progress); err != nil && runCtx.Err() == nil {
			errs <- fmt.Errorf("writing the corpus: %w", err)
		}
	}()
	gwSeed := r.Int64()
	go func() {
		defer wg.Done()
		if err := h.gatewayOutages(runCtx, gwAt, gwSeed); err != nil && runCtx.Err() == nil {
			errs <- err
		}
	}()
	if err := h.agentStops(runCtx, stops, r); err != nil {
		stopRun()
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.logf("[%s] faults done after %s (%d kills, %d graceful stops, %d gateway kills, %d with the gateway paused); waiting for the agent to catch up",
		shape, time.Since(began).Round(time.Millisecond), res.Kills, res.Terms, res.GwKills, res.Stalled)

	res.CaughtUp, err = h.settle(ctx, telPort)
	if err != nil {
		return nil, err
	}
	if _, err := agent.stop(syscall.SIGTERM, o.TermTimeout); err != nil {
		return nil, err
	}
	if _, err := gw.stop(syscall.SIGTERM, o.TermTimeout); err != nil {
		return nil, err
	}
	res.AgentLives = agent.lives
	res.Wall = time.Since(began)

	if b, err := json.MarshalIndent(res.Faults, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(work, "faults.json"), b, 0o644)
	}
	want, err := c.expected()
	if err != nil {
		return nil, fmt.Errorf("expected accounting: %w", err)
	}
	res.Verdict, err = judge(out, want, res.Faults)
	if err != nil {
		return nil, err
	}
	if o.Ledger {
		if res.Ledger, res.LedgerRows, err = judgeLedger(filepath.Join(out, "ledger"), want); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func writeConfig(tmpl string, d configData, path string) (string, error) {
	b, err := renderConfig(tmpl, d)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b, 0o600)
}

// harness drives the processes of one run.
type harness struct {
	o      options
	res    *result
	gw     *process
	agent  *process
	out    string
	gwPort int
	began  time.Time

	gwMu      sync.Mutex // held while the gateway is paused, killed or restarting
	faults    sync.Mutex // guards res.Faults, the counts, stopsDone and lifeBegan
	stopsDone int        // agent stops so far
	lifeBegan time.Time  // when the agent's current life began
}

// progress returns the agent stops done and how long the current life has
// lasted.
func (h *harness) progress() (int, time.Duration) {
	h.faults.Lock()
	defer h.faults.Unlock()
	return h.stopsDone, time.Since(h.lifeBegan)
}

func (h *harness) record(f fault) {
	h.faults.Lock()
	defer h.faults.Unlock()
	f.At = time.Since(h.began).Seconds()
	f.Offsets = fileSizes(h.out)
	h.res.Faults = append(h.res.Faults, f)
	switch {
	case f.Kind == faultKill || f.Timeout || f.Signaled:
		h.res.Kills++
	case f.Kind == faultTerm:
		h.res.Terms++
	case f.Kind == faultGatewayKill:
		h.res.GwKills++
	}
	if f.Stalled {
		h.res.Stalled++
	}
}

// sleep waits d, or less if ctx ends or the agent exits by itself.
func (h *harness) sleep(ctx context.Context, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		if err := h.agent.unexpectedExit(); err != nil {
			return err
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, 20*time.Millisecond)):
		}
	}
}

// agentStops stops the agent as stops say, each a random time after it
// started, and starts it again. With probability Stall the gateway is
// paused (SIGSTOP) shortly before, so that the stop lands while requests
// are in flight, and continued once the agent is gone (a kill) or as long
// after the SIGTERM as it was paused before (a graceful stop, which waits
// for its requests in flight).
func (h *harness) agentStops(ctx context.Context, stops []string, r *rand.Rand) error {
	for i, kind := range stops {
		d := h.o.MinDelay + time.Duration(r.Float64()*float64(h.o.MaxDelay-h.o.MinDelay))
		stall := r.Float64() < h.o.Stall
		pause := time.Duration(0)
		if stall {
			pause = min(d/2, 100*time.Millisecond+time.Duration(r.Float64()*float64(400*time.Millisecond)))
		}
		if err := h.sleep(ctx, d-pause); err != nil {
			return err
		}
		if kind == faultTerm {
			// The collector handles SIGTERM only once it has started every
			// component; before, SIGTERM is a kill.
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := h.agent.waitLog(rctx, readyLine)
			cancel()
			if err != nil {
				return err
			}
		}
		stalled := false
		if stall {
			h.gwMu.Lock()
			if h.gw.running() && h.gw.signal(syscall.SIGSTOP) == nil {
				stalled = true
			}
			if err := h.sleep(ctx, pause); err != nil {
				h.gw.signal(syscall.SIGCONT)
				h.gwMu.Unlock()
				return err
			}
		}
		sig, timeout := syscall.SIGKILL, 10*time.Second
		if kind == faultTerm {
			sig, timeout = syscall.SIGTERM, h.o.TermTimeout
		}
		var resume *time.Timer
		if stalled && kind == faultTerm {
			// A graceful stop waits for the requests in flight: the gateway
			// is slow, not gone, so it answers a moment after the SIGTERM.
			resume = time.AfterFunc(pause, func() { _ = h.gw.signal(syscall.SIGCONT) })
		}
		st, err := h.agent.stop(sig, timeout)
		if resume != nil {
			resume.Stop()
		}
		f := fault{Kind: kind, Stalled: stalled, Timeout: !st.InTime, Signaled: st.Signaled}
		h.record(f)
		if stall {
			if stalled {
				_ = h.gw.signal(syscall.SIGCONT)
			}
			h.gwMu.Unlock()
		}
		if err != nil {
			return err
		}
		switch {
		case f.Timeout:
			h.o.logf("[%s] stop %d: the graceful stop did not end within %s; killed", h.res.Shape, i+1, h.o.TermTimeout)
		case f.Signaled:
			h.o.logf("[%s] stop %d: SIGTERM ended the agent without a graceful shutdown (counted as a kill)", h.res.Shape, i+1)
		}
		if err := h.agent.start(); err != nil {
			return err
		}
		h.faults.Lock()
		h.stopsDone++
		h.lifeBegan = time.Now()
		h.faults.Unlock()
	}
	return nil
}

// gatewayOutages kills the gateway at the given times after the run began
// and restarts it after an outage of 0.3 to 1.5 s.
func (h *harness) gatewayOutages(ctx context.Context, at []time.Duration, seed int64) error {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9a7e))
	for _, t := range at {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(h.began.Add(t))):
		}
		h.gwMu.Lock()
		if _, err := h.gw.stop(syscall.SIGKILL, 10*time.Second); err != nil {
			h.gwMu.Unlock()
			return err
		}
		h.record(fault{Kind: faultGatewayKill})
		select {
		case <-ctx.Done():
		case <-time.After(300*time.Millisecond + time.Duration(r.Float64()*float64(1200*time.Millisecond))):
		}
		err := h.gw.start()
		if err == nil {
			wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = waitListening(wctx, h.gwPort, h.gw)
			cancel()
		}
		h.gwMu.Unlock()
		if err != nil {
			return fmt.Errorf("restarting the gateway: %w", err)
		}
	}
	return nil
}

// settle waits until the agent has caught up: the gateway's files, the
// agent's bytes read and requests sent have not changed for Settle, and its
// sending queue is empty. It gives up after SettleMax.
func (h *harness) settle(ctx context.Context, telPort int) (bool, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", telPort)
	deadline := time.Now().Add(h.o.SettleMax)
	var last string
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		if err := h.agent.unexpectedExit(); err != nil {
			return false, err
		}
		if err := h.gw.unexpectedExit(); err != nil {
			return false, err
		}
		m, err := scrape(ctx, url, "otelcol_exporter_queue_size", "otelcol_receiver_copilot_bytes_read", "otelcol_exporter_sent_", "otelcol_receiver_copilot_events_read")
		state := fmt.Sprint(fileSizes(h.out), m)
		switch {
		case err != nil || m["otelcol_exporter_queue_size"] > 0 || state != last:
			quietSince = time.Now()
			last = state
		case time.Since(quietSince) >= h.o.Settle:
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return false, nil
}

var errFailed = errors.New("the exact criteria failed")
