package forwarder

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestConcurrentForwards runs many hook "processes" at once, each
// forwarding its payloads one after the other, against a collector that
// refuses, hangs or accepts at random. Each forward has its own Forwarder,
// as a process would, sharing only the spool directory. After a final
// drain, every payload is delivered exactly once, and each process's
// payloads arrive in the order it forwarded them.
func TestConcurrentForwards(t *testing.T) {
	const (
		procs = 8
		each  = 25
	)
	c := newCollector(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	c.setAnswer(func(received, int) (int, http.Header, bool) {
		mu.Lock()
		x := rng.IntN(100)
		mu.Unlock()
		switch {
		case x < 25:
			return http.StatusServiceUnavailable, nil, false
		case x < 30:
			return 0, nil, true // slower than the timeout
		case x < 33:
			return http.StatusInternalServerError, nil, false
		}
		return http.StatusAccepted, nil, false
	})
	base := testForwarder(t, c.URL())
	newProc := func() *Forwarder {
		f := *base
		f.Client = &Client{Endpoint: c.URL(), HTTP: &http.Client{}}
		f.Spool = &Spool{Dir: base.Spool.Dir, Log: base.Log}
		f.Timeout = 150 * time.Millisecond
		f.ReplayBudget = 100 * time.Millisecond
		f.Usage = nil
		return &f
	}
	sent := make([][]string, procs) // ids per process, in order
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := fmt.Sprintf(`{"sessionId":"s%d","proc":%d,"seq":%d}`, p, p, i)
				res := newProc().Forward("postToolUse", payload(body))
				if res.Status != "delivered" && res.Status != "spooled" {
					t.Errorf("proc %d seq %d: %+v", p, i, res)
				}
				sent[p] = append(sent[p], res.ID)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	c.setAnswer(nil)
	d, err := newProc().Drain(time.Minute)
	if err != nil || d.Spool.Payloads != 0 {
		t.Fatalf("drain: %+v %v", d, err)
	}

	re := regexp.MustCompile(`"proc":(\d+),"seq":(\d+)`)
	next := make([]int, procs)
	for _, r := range c.acceptedList() {
		m := re.FindSubmatch(r.Body)
		p, _ := strconv.Atoi(string(m[1]))
		seq, _ := strconv.Atoi(string(m[2]))
		if seq != next[p] {
			t.Errorf("process %d: payload %d delivered when %d was due", p, seq, next[p])
		}
		if sent[p][seq] != r.ID {
			t.Errorf("process %d seq %d: id %s, forwarded as %s", p, seq, r.ID, sent[p][seq])
		}
		next[p] = seq + 1
	}
	for p, n := range next {
		if n != each {
			t.Errorf("process %d: %d of %d payloads delivered", p, n, each)
		}
	}
	c.mu.Lock()
	for id, n := range c.byID {
		if n != 1 {
			t.Errorf("payload %s accepted %d times", id, n)
		}
	}
	c.mu.Unlock()
	// No payload was sent again once accepted.
	seen := map[string]bool{}
	for _, r := range c.requests() {
		if seen[r.ID] {
			t.Errorf("payload %s sent again after it was accepted", r.ID)
		}
		if r.Status/100 == 2 {
			seen[r.ID] = true
		}
	}
	t.Logf("%d forwards by %d processes in %s against a flaky collector (%d requests); drain delivered %d",
		procs*each, procs, elapsed.Round(time.Millisecond), len(c.requests()), d.Delivered)
}
