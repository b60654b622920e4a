package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/decodeonly"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/procstat"
)

// result is one route's measurement in one round.
type result struct {
	CPU  time.Duration // user + system CPU of the process until it had exported everything
	Wall time.Duration // from the process's start to that moment
	// PeakRSS is the process's VmHWM in bytes, read at the end of the run
	// (idle window included); 0 for the line scan.
	PeakRSS int64
	// PeakAnon is the largest RssAnon (the heap, stacks and other
	// anonymous memory) seen by sampling /proc/<pid>/status every 20 ms
	// from the start to the end of the run: a lower bound of the true
	// peak. FileRSS is RssFile at the end: mapped files, mostly the
	// binary's code and data, whose resident share depends on how the
	// binary's pages entered the page cache (see the README).
	PeakAnon, FileRSS int64
	// Idle is the CPU used once caught up, over the idle window, as a
	// fraction of one core; -1 when not measured.
	Idle float64
}

// configData fills a route's config template.
type configData struct {
	Glob         string
	StateDir     string
	Exporter     string // the exporter's id: file or otlp_grpc
	OutFile      string
	OTLPEndpoint string
	ParseAll     bool // generic route: json_parser on every line, no filter operator before it
}

type runOpts struct {
	settle, idle, timeout, stall time.Duration
	// coldBinary drops the binary from the page cache before the run, so
	// that every run maps it as it would be mapped after a reboot, read
	// from disk as its pages are touched (dropFromPageCache).
	coldBinary bool
}

// runCollector runs one collector process until its export equals want,
// measures it, then measures it idle and stops it.
func runCollector(name, bin, tmplPath string, data configData, src collector, want Totals, work string, o runOpts) (result, error) {
	res := result{Idle: -1}
	tmpl, err := template.ParseFiles(tmplPath)
	if err != nil {
		return res, err
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, data); err != nil {
		return res, err
	}
	cfgPath := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		return res, err
	}
	logPath := filepath.Join(work, "collector.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return res, err
	}
	defer logf.Close()
	if o.coldBinary {
		if err := dropFromPageCache(bin); err != nil {
			return res, fmt.Errorf("%s: dropping %s from the page cache (-keep-page-cache runs without): %w", name, bin, err)
		}
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()
	fail := func(format string, args ...any) (result, error) {
		return res, fmt.Errorf("%s: %s\nits log (%s):\n%s", name, fmt.Sprintf(format, args...), logPath, tail(logPath, 30))
	}
	pid := cmd.Process.Pid
	peakAnon := sampleMax(pid, "RssAnon", 20*time.Millisecond)
	var last Totals
	lastChange := time.Now()
	for {
		select {
		case err := <-exited:
			stopped = true
			return fail("the collector exited before exporting everything: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		got, err := src.Totals()
		if err != nil {
			return fail("reading its export: %v", err)
		}
		if got.Equal(want) {
			res.Wall = time.Since(start)
			if res.CPU, err = procstat.ProcCPU(pid); err != nil {
				return res, err
			}
			break
		}
		if got.Over(want) {
			return fail("NOT EXACT: it exported more than the transcripts account for:\n%s", Diff(got, want))
		}
		if !got.Equal(last) {
			last, lastChange = got, time.Now()
		}
		if time.Since(lastChange) > o.stall || time.Since(start) > o.timeout {
			return fail("NOT EXACT: its export stopped short of the transcripts' accounting (nothing new for %v):\n%s",
				time.Since(lastChange).Round(time.Second), Diff(got, want))
		}
	}
	if o.idle > 0 {
		time.Sleep(o.settle)
		c0, err := procstat.ProcCPU(pid)
		if err != nil {
			return res, err
		}
		time.Sleep(o.idle)
		c1, err := procstat.ProcCPU(pid)
		if err != nil {
			return res, err
		}
		res.Idle = (c1 - c0).Seconds() / o.idle.Seconds()
	}
	got, err := src.Totals()
	if err != nil {
		return fail("reading its export: %v", err)
	}
	if !got.Equal(want) {
		return fail("NOT EXACT: it exported more after catching up:\n%s", Diff(got, want))
	}
	if res.PeakRSS, err = procstat.StatusBytes(pid, "VmHWM"); err != nil {
		return res, err
	}
	if res.FileRSS, err = procstat.StatusBytes(pid, "RssFile"); err != nil {
		return res, err
	}
	res.PeakAnon = peakAnon()
	return res, nil
}

// lineScan splits every file into lines with one buffer, in this process.
// warm reads the corpus once, unmeasured, before each run: every route,
// the line scan included, then starts with the corpus in the page cache.
// Without it a run could follow one that had pushed part of the corpus
// out (or the kernel could have reclaimed it), and pay disk reads the
// others did not: on the 2-core machine, runs that read part of the corpus
// from disk (perf showed it) took up to twice the wall time and a third
// more CPU.
func warm(paths []string) error {
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		for {
			if _, err = f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func lineScan(paths []string) (result, error) {
	res := result{Idle: -1}
	buf := make([]byte, 0, 1<<20)
	c0, t0 := procstat.SelfCPU(), time.Now()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return res, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(buf, 64<<20)
		for sc.Scan() {
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return res, fmt.Errorf("%s: %w", p, err)
		}
	}
	res.CPU, res.Wall = procstat.SelfCPU()-c0, time.Since(t0)
	return res, nil
}

// decodeAll decodes every file with the copilot receiver's transcript
// decoder (decodeonly), in this process, and does nothing with the events:
// the receiver's path cannot be faster than this. It fails unless every
// line is an event.
func decodeAll(paths []string, events int) (result, error) {
	res := result{Idle: -1}
	rd := decodeonly.NewReader()
	n := 0
	c0, t0 := procstat.SelfCPU(), time.Now()
	for _, p := range paths {
		k, err := decodeonly.File(rd, p)
		if err != nil {
			return res, err
		}
		n += k
	}
	res.CPU, res.Wall = procstat.SelfCPU()-c0, time.Since(t0)
	if n != events {
		return res, fmt.Errorf("the decoder read %d events, the corpus has %d", n, events)
	}
	return res, nil
}

// sampleMax reads key of /proc/<pid>/status every interval until the
// returned function is called, which returns the largest value read.
func sampleMax(pid int, key string, interval time.Duration) func() int64 {
	done := make(chan struct{})
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v, err := procstat.StatusBytes(pid, key); err == nil && v > peak {
				peak = v
			}
			select {
			case <-done:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-out
	}
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
