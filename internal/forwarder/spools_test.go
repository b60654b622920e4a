package forwarder

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// configured returns a forwarder as the command builds it, sending to
// endpoint and spooling in the spool directory spoolDir.
func configured(t *testing.T, endpoint, spoolDir string) *Forwarder {
	t.Helper()
	state := t.TempDir()
	cfg := Config{Endpoint: endpoint, StateDir: state, SpoolDir: spoolDir, NoUsage: true,
		Timeout: 300 * time.Millisecond, ReplayBudget: 200 * time.Millisecond}
	return cfg.Forwarder(&Logger{Path: filepath.Join(state, "hook.log"), Level: LevelDebug}, "test")
}

// TestSpoolPerEndpoint: two hook configurations share the spool directory
// (a user's own hooks to the local collector, a repository's to a central
// one). What was spooled for the local collector, while it was down, is
// not delivered to the central one (which would count it again), is
// listed as waiting for its endpoint, and is delivered by a drain for it.
func TestSpoolPerEndpoint(t *testing.T) {
	spoolDir := filepath.Join(t.TempDir(), "spool")
	local, central := newCollector(t), newCollector(t)
	local.setAnswer(func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false })

	toLocal := configured(t, local.URL(), spoolDir)
	spooled := toLocal.Forward("sessionStart", payload(numbered(1)))
	if spooled.Status != "spooled" {
		t.Fatalf("%+v", spooled)
	}
	toCentral := configured(t, central.URL()+"/", spoolDir)
	if res := toCentral.Forward("sessionStart", payload(numbered(2))); res.Status != "delivered" || res.Replay.Delivered != 0 {
		t.Fatalf("%+v", res)
	}
	if d, err := toCentral.Drain(time.Minute); err != nil || d.Delivered != 0 || d.Spool.Payloads != 0 {
		t.Fatalf("drain for the central collector: %+v %v", d, err)
	}
	for _, r := range central.requests() {
		if r.ID == spooled.ID {
			t.Fatalf("the payload spooled for %s was sent to %s", local.URL(), central.URL())
		}
	}

	spools, err := Spools(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	waiting := map[string]int{}
	for _, sp := range spools {
		waiting[sp.Endpoint] += sp.Stats.Payloads
	}
	if waiting[local.URL()] != 1 || waiting[central.URL()] != 0 || len(waiting) != 2 {
		t.Fatalf("spools %+v: want 1 payload waiting for %s", spools, local.URL())
	}

	local.setAnswer(nil)
	if d, err := configured(t, local.URL(), spoolDir).Drain(time.Minute); err != nil || d.Delivered != 1 || d.Spool.Payloads != 0 {
		t.Fatalf("drain for the local collector: %+v %v", d, err)
	}
	if acc := local.acceptedList(); len(acc) != 1 || acc[0].ID != spooled.ID {
		t.Fatalf("the local collector took %+v, want %s", acc, spooled.ID)
	}
}

// TestSpoolAdoptsOlderForwarderPayloads: payloads an older forwarder
// spooled in the spool directory itself record no endpoint; the next
// forward delivers them, before its own, to its endpoint, as that
// forwarder would have.
func TestSpoolAdoptsOlderForwarderPayloads(t *testing.T) {
	spoolDir := filepath.Join(t.TempDir(), "spool")
	older := &Spool{Dir: spoolDir}
	var ids []string
	for i := 0; i < 2; i++ {
		e := Entry{Type: "postToolUse", ID: NewID(), Received: time.Now(), Body: []byte(numbered(i))}
		if _, err := older.Put(e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	c := newCollector(t)
	f := configured(t, c.URL(), spoolDir)
	res := f.Forward("postToolUse", payload(numbered(9)))
	if res.Status != "delivered" || res.Replay.Delivered != 2 {
		t.Fatalf("%+v", res)
	}
	ids = append(ids, res.ID)
	acc := c.acceptedList()
	if len(acc) != len(ids) {
		t.Fatalf("delivered %d payloads, want %d", len(acc), len(ids))
	}
	for i, r := range acc {
		if r.ID != ids[i] {
			t.Fatalf("delivered out of order: %d is %s, want %s", i, r.ID, ids[i])
		}
	}
	if st, err := older.Stats(); err != nil || st.Payloads != 0 {
		t.Fatalf("left in the spool directory: %+v %v", st, err)
	}
}
