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
// drain, every payload is delivered, each process's payloads arrive in the
// order it forwarded them, and none is sent again once the forwarder got
// the collector's acceptance of it. (An acceptance whose answer comes after
// the forwarder gave up waiting is sent again, as at least once requires;
// the collector drops it by id. Under the race detector that happens in
// about one run in five.)
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
	got := &attempts{answered: map[string]int{}}
	base := testForwarder(t, c.URL())
	newProc := func() *Forwarder {
		f := *base
		f.Client = &Client{Endpoint: c.URL(), HTTP: &http.Client{Transport: got}}
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
	// A payload is sent again only when the forwarder did not get the
	// answer to an earlier attempt the collector accepted (it gave up
	// waiting: the collector's dedup by id is there for that). Sent again
	// after the forwarder got that answer, or sent twice at once, it is a
	// duplicate the forwarder made.
	accepted := map[string][]string{} // attempts accepted so far, by payload id
	resent := 0
	for _, r := range c.requests() { // in the order the collector answered
		for _, a := range accepted[r.ID] {
			if status, ok := got.answer(a); ok {
				t.Errorf("payload %s sent again (attempt %s) after the forwarder got %d for attempt %s", r.ID, r.Attempt, status, a)
			} else {
				resent++
			}
		}
		if r.Status/100 == 2 {
			accepted[r.ID] = append(accepted[r.ID], r.Attempt)
		}
	}
	if resent > 0 {
		t.Logf("%d attempts sent again after an acceptance whose answer the forwarder did not get in time", resent)
	}
	t.Logf("%d forwards by %d processes in %s against a flaky collector (%d requests); drain delivered %d",
		procs*each, procs, elapsed.Round(time.Millisecond), len(c.requests()), d.Delivered)
}

// attempts is a transport that numbers each request (attemptHeader) and
// records the status of those the forwarder got an answer to.
type attempts struct {
	mu       sync.Mutex
	n        int
	answered map[string]int
}

func (a *attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.n++
	n := strconv.Itoa(a.n)
	a.mu.Unlock()
	req = req.Clone(req.Context())
	req.Header.Set(attemptHeader, n)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		a.mu.Lock()
		a.answered[n] = resp.StatusCode
		a.mu.Unlock()
	}
	return resp, err
}

// answer is the status the forwarder got for attempt n, if it got one.
func (a *attempts) answer(n string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	status, ok := a.answered[n]
	return status, ok
}
