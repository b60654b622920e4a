package forwarder

import (
	"net/http"
	"testing"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
)

func TestClaimDrainerStart(t *testing.T) {
	if !filelock.IsReal {
		t.Skip("no drainer on this system")
	}
	f := testForwarder(t, deadEndpoint(t))
	if f.ClaimDrainerStart() {
		t.Fatal("claimed with an empty spool")
	}
	f.Forward("agentStop", payload(testPayload))
	if !f.ClaimDrainerStart() {
		t.Fatal("no claim with a payload spooled")
	}
	if f.ClaimDrainerStart() {
		t.Fatal("claimed twice while the first drainer is starting")
	}
	f.ReleaseDrainerStart()
	l, ok, err := filelock.TryLock(f.Spool.Dir + "/" + drainerLockName)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if f.ClaimDrainerStart() {
		t.Fatal("claimed while a drainer runs")
	}
	l.Unlock()
	if !f.ClaimDrainerStart() {
		t.Fatal("no claim once the drainer is gone")
	}
}

// TestDrainWhenUp: the drainer waits for the collector's health, then
// delivers everything in order, and ends with the spool empty.
func TestDrainWhenUp(t *testing.T) {
	c := newCollector(t)
	c.down = true
	c.setAnswer(func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false })
	f := testForwarder(t, c.URL())
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, f.Forward("postToolUse", payload(numbered(i))).ID)
	}
	before := len(c.requests())
	go func() {
		time.Sleep(400 * time.Millisecond)
		c.mu.Lock()
		c.down, c.answer = false, nil
		c.mu.Unlock()
	}()
	// While the collector is down it answers every payload 503: all four
	// delivered means the drainer waited for it to come up.
	d, err := f.DrainWhenUp(time.Minute)
	if err != nil || d.Delivered != 4 || d.Spool.Payloads != 0 || d.Busy {
		t.Fatalf("%+v %v", d, err)
	}
	acc := c.acceptedList()
	for i, r := range acc {
		if r.ID != ids[i] {
			t.Fatalf("delivered out of order: %d is %s, want %s", i, r.ID, ids[i])
		}
	}
	if got := len(c.requests()) - before; got != 4 {
		t.Errorf("the drainer made %d hook requests: want only the 4 deliveries (it waits for the health)", got)
	}
	// It gives up after its time limit, keeping the payloads.
	c.mu.Lock()
	c.down = true
	c.answer = func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false }
	c.mu.Unlock()
	if res := f.Forward("postToolUse", payload(numbered(9))); res.Status != "spooled" {
		t.Fatalf("%+v", res)
	}
	d, err = f.DrainWhenUp(300 * time.Millisecond)
	if err != nil || d.Spool.Payloads != 1 {
		t.Fatalf("%+v %v", d, err)
	}
	// Another drainer is busy: return at once.
	if filelock.IsReal {
		l, ok, _ := filelock.TryLock(f.Spool.Dir + "/" + drainerLockName)
		if !ok {
			t.Fatal("lock")
		}
		defer l.Unlock()
		if d, err := f.DrainWhenUp(time.Minute); err != nil || !d.Busy {
			t.Fatalf("%+v %v", d, err)
		}
	}
}

// TestDrainWhenUpRetryAfterClockSetBack: the drainer honours a recorded
// Retry-After, but not one further ahead than a Retry-After can ask for
// (recorded before the clock was set back): it delivers at once.
func TestDrainWhenUpRetryAfterClockSetBack(t *testing.T) {
	c := newCollector(t)
	c.setAnswer(func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false })
	f := testForwarder(t, c.URL())
	if res := f.Forward("postToolUse", payload(numbered(1))); res.Status != "spooled" {
		t.Fatalf("%+v", res)
	}
	c.setAnswer(nil)
	f.Spool.setBackoff(time.Now().Add(time.Hour))
	d, err := f.DrainWhenUp(2 * time.Second)
	if err != nil || d.Delivered != 1 || d.Spool.Payloads != 0 {
		t.Fatalf("%+v %v", d, err)
	}
}
