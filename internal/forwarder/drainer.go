package forwarder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
)

// The drainer is a process of its own that forward starts, detached from
// the CLI, when it leaves payloads in the spool and no drainer runs: it
// waits for the collector's health and replays the spool, so that what was
// spooled during an outage arrives when the collector is back even if no
// hook fires (the last sessionEnd of the day). One runs at a time: it
// holds .drainer.lock in the spool for its whole life (and a forward that
// starts one marks it with .drainer.starting until it has the lock), and
// ends when the spool is empty or after its time limit.
const drainerLockName = ".drainer.lock"

// HealthPath is the collector's health endpoint.
const HealthPath = "/v1/health"

// Drainer polling, from the first interval doubling up to the last.
const (
	drainerFirstPoll = 250 * time.Millisecond
	drainerMaxPoll   = 5 * time.Second
)

// DefaultDrainerWait is how long a drainer waits for the collector.
const DefaultDrainerWait = 30 * time.Minute

// drainerStarting marks that a forward is starting a drainer, which has
// not taken the drainer lock yet; the drainer removes it.
const drainerStarting = ".drainer.starting"

// drainerStartGrace is how long a start marker keeps other forwards from
// starting a drainer; an older one was left by a drainer that died.
const drainerStartGrace = 10 * time.Second

// ClaimDrainerStart reports whether the caller should start a drainer:
// payloads are spooled, no drainer runs and no other forward is starting
// one. A caller that gets true and fails to start it calls
// ReleaseDrainerStart. On a system without a real lock, where drainers
// could not tell each other apart, it reports false.
func (f *Forwarder) ClaimDrainerStart() bool {
	if !filelock.IsReal || f.Spool.Dir == "" {
		return false
	}
	if items, err := f.Spool.list(); err != nil || len(items) == 0 {
		return false
	}
	l, ok, err := filelock.TryLock(filepath.Join(f.Spool.Dir, drainerLockName))
	if err != nil || !ok {
		return false
	}
	l.Unlock()
	marker := filepath.Join(f.Spool.Dir, drainerStarting)
	for i := 0; i < 2; i++ {
		fh, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			fh.Close()
			return true
		}
		st, serr := os.Stat(marker)
		if serr != nil || time.Since(st.ModTime()) < drainerStartGrace {
			return false
		}
		_ = os.Remove(marker)
	}
	return false
}

// ReleaseDrainerStart withdraws a claim of ClaimDrainerStart.
func (f *Forwarder) ReleaseDrainerStart() {
	_ = os.Remove(filepath.Join(f.Spool.Dir, drainerStarting))
}

// Healthy asks the collector's health endpoint. A collector that answers
// at all, other than with a server error, is up: the drain then finds out
// what it thinks of the payloads.
func (f *Forwarder) Healthy(ctx context.Context) bool {
	url := strings.TrimRight(f.Client.Endpoint, "/") + HealthPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set(ClientHeader, ClientName)
	if f.Client.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.Client.Token)
	}
	hc := f.Client.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return resp.StatusCode < 500
}

// DrainWhenUp is the drainer: it takes the drainer lock (returning at once
// if another drainer has it), then until the spool is empty or wait has
// passed, polls the collector's health and drains the spool when it is up.
func (f *Forwarder) DrainWhenUp(wait time.Duration) (DrainResult, error) {
	var total DrainResult
	if err := os.MkdirAll(f.Spool.Dir, 0o700); err != nil {
		return total, fmt.Errorf("spool %s: %w", f.Spool.Dir, err)
	}
	lockPath := filepath.Join(f.Spool.Dir, drainerLockName)
	l, ok, err := filelock.TryLock(lockPath)
	if err != nil {
		return total, fmt.Errorf("spool %s: %w", f.Spool.Dir, err)
	}
	if !ok {
		total.Busy = true
		total.Spool, err = f.Spool.Stats()
		return total, err
	}
	defer func() { l.Unlock() }()
	f.ReleaseDrainerStart()
	deadline := time.Now().Add(wait)
	poll := drainerFirstPoll
	for {
		st, err := f.Spool.Stats()
		if err != nil {
			return total, err
		}
		total.Spool = st
		if st.Payloads == 0 {
			// A forward that spooled while this drainer held the lock did
			// not start another: look again once the lock is free.
			l.Unlock()
			if items, err := f.Spool.list(); err != nil || len(items) == 0 {
				return total, err
			}
			if l, ok, err = filelock.TryLock(lockPath); err != nil || !ok {
				return total, err
			}
			continue
		}
		if time.Now().After(deadline) {
			f.Log.Warnf("the collector at %s was not back within %s; %d payloads stay in the spool %s for the next hook or drain",
				f.Client.Endpoint, wait, st.Payloads, f.Spool.Dir)
			return total, nil
		}
		if until := f.Spool.backoff(); time.Now().Before(until) {
			time.Sleep(min(time.Until(until), time.Until(deadline)) + time.Millisecond)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(f.Timeout, time.Second))
		up := f.Healthy(ctx)
		cancel()
		if up {
			d, err := f.Drain(min(time.Until(deadline), 5*time.Minute))
			if err != nil {
				return total, err
			}
			total.add(d.ReplayResult)
			total.Spool = d.Spool
			if d.Delivered+d.Dropped > 0 {
				poll = drainerFirstPoll
				continue
			}
		}
		time.Sleep(min(poll, max(time.Until(deadline), 0)))
		poll = min(2*poll, drainerMaxPoll)
	}
}

// StartDetached starts exe with args as a process of its own: no standard
// input or output (the CLI waits for the hook's output to close), its own
// session or process group (the CLI's timeout does not kill it), and not
// waited for. It returns the process id.
func StartDetached(exe string, args []string) (int, error) {
	if exe == "" {
		return 0, errors.New("no executable")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	cmd.Dir = os.TempDir() // not the repository the hook ran in
	cmd.SysProcAttr = detachAttr()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	return pid, cmd.Process.Release()
}
