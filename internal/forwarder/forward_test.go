package forwarder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
)

const testPayload = `{"sessionId":"00000000-0000-0000-0000-000000000001","timestamp":1795363647009,"cwd":"/src/x","toolName":"bash"}`

func numbered(i int) string {
	return fmt.Sprintf(`{"sessionId":"00000000-0000-0000-0000-000000000001","timestamp":1795363647009,"cwd":"/src/x","seq":%d}`, i)
}

func TestForwardDelivers(t *testing.T) {
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	f.Client.Token = "s3cret"
	res := f.Forward("PreToolUse", payload(testPayload)) // the Claude-compatible name
	if res.Status != "delivered" || res.Type != "preToolUse" {
		t.Fatalf("%+v", res)
	}
	got := c.requests()
	if len(got) != 1 || got[0].Type != "preToolUse" || got[0].ID != res.ID || got[0].Auth != "Bearer s3cret" || got[0].Client != ClientName {
		t.Fatalf("collector saw %+v", got)
	}
	if !bytes.Equal(got[0].Body, []byte(testPayload)) {
		t.Errorf("body changed without a transcript: %s", got[0].Body)
	}
	if ids := spoolIDs(t, f.Spool); len(ids) != 0 {
		t.Errorf("spool holds %v", ids)
	}
	t.Logf("delivered in %s", res.Time)
}

// TestForwardCollectorDown: nothing listens; the payload is spooled at once.
func TestForwardCollectorDown(t *testing.T) {
	f := testForwarder(t, deadEndpoint(t))
	res := f.Forward("sessionStart", payload(testPayload))
	if res.Status != "spooled" {
		t.Fatalf("%+v", res)
	}
	if ids := spoolIDs(t, f.Spool); len(ids) != 1 || ids[0] != res.ID {
		t.Fatalf("spool holds %v, want [%s]", ids, res.ID)
	}
	e, err := f.Spool.read(mustItems(t, f.Spool)[0].name)
	if err != nil || e.Type != "sessionStart" || e.ID != res.ID || string(e.Body) != testPayload {
		t.Fatalf("spooled %+v, %v", e, err)
	}
	t.Logf("collector down: spooled in %s", res.Time)
	if res.Time > 200*time.Millisecond {
		t.Logf("note: slow spool (%s)", res.Time)
	}
}

func mustItems(t *testing.T, s *Spool) []spooled {
	t.Helper()
	items, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestForwardCollectorSlow: the collector does not answer within the
// timeout; the payload is spooled and the hook returns after the timeout.
func TestForwardCollectorSlow(t *testing.T) {
	c := newCollector(t)
	c.setAnswer(func(received, int) (int, http.Header, bool) { return 0, nil, true })
	f := testForwarder(t, c.URL())
	f.Timeout = 100 * time.Millisecond
	res := f.Forward("postToolUse", payload(testPayload))
	if res.Status != "spooled" || !strings.Contains(res.Reason, "in time") {
		t.Fatalf("%+v", res)
	}
	if res.Time < 100*time.Millisecond || res.Time > 2*time.Second {
		t.Errorf("took %s with a 100ms timeout", res.Time)
	}
	t.Logf("collector slow: spooled in %s", res.Time)
	// The next hook replays the spool first: the collector is still slow, so
	// it gives up within the replay budget and spools behind.
	res2 := f.Forward("postToolUse", payload(testPayload))
	if res2.Status != "spooled" || res2.Time > f.ReplayBudget+time.Second {
		t.Fatalf("%+v", res2)
	}
	if ids := spoolIDs(t, f.Spool); len(ids) != 2 || ids[0] != res.ID || ids[1] != res2.ID {
		t.Fatalf("spool %v, want [%s %s]", ids, res.ID, res2.ID)
	}
}

// TestForwardRetryAfter: 503 with Retry-After spools the payload, and hooks
// do not call the collector again before that time.
func TestForwardRetryAfter(t *testing.T) {
	c := newCollector(t)
	c.setAnswer(func(received, int) (int, http.Header, bool) {
		return http.StatusServiceUnavailable, http.Header{"Retry-After": {"30"}}, false
	})
	f := testForwarder(t, c.URL())
	res := f.Forward("agentStop", payload(testPayload))
	if res.Status != "spooled" || !strings.Contains(res.Reason, "503") {
		t.Fatalf("%+v", res)
	}
	until := f.Spool.backoff()
	if d := time.Until(until); d < 25*time.Second || d > 31*time.Second {
		t.Fatalf("backoff until %s (in %s), want in 30s", until, d)
	}
	res = f.Forward("agentStop", payload(testPayload))
	if res.Status != "spooled" || !strings.Contains(res.Reason, "asked to wait") {
		t.Fatalf("%+v", res)
	}
	if n := len(c.requests()); n != 1 {
		t.Fatalf("collector called %d times during the Retry-After", n)
	}
	// Drain ignores it, and a healthy collector takes everything.
	c.setAnswer(nil)
	d, err := f.Drain(time.Minute)
	if err != nil || d.Delivered != 2 || d.Spool.Payloads != 0 {
		t.Fatalf("drain %+v %v", d, err)
	}
	if !f.Spool.backoff().IsZero() {
		t.Error("drain left the Retry-After")
	}
	// 429 without Retry-After: spooled, no backoff.
	c.setAnswer(func(received, int) (int, http.Header, bool) { return http.StatusTooManyRequests, nil, false })
	if res := f.Forward("agentStop", payload(testPayload)); res.Status != "spooled" || !f.Spool.backoff().IsZero() {
		t.Fatalf("%+v, backoff %s", res, f.Spool.backoff())
	}
}

// TestForwardRetryAfterClockSetBack: a Retry-After recorded before the
// clock was set back lies further ahead than any Retry-After can ask for.
// It is taken as passed (and removed), so the hook tries the collector
// instead of spooling until the clock catches up with the record.
func TestForwardRetryAfterClockSetBack(t *testing.T) {
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	// Retry-After: 30 recorded, then the clock stepped back an hour.
	f.Spool.setBackoff(time.Now().Add(time.Hour + 30*time.Second))

	if until := f.Spool.backoff(); !until.IsZero() {
		t.Errorf("a record %s ahead is honoured until %s", time.Hour+30*time.Second, until)
	}
	if _, err := os.Stat(filepath.Join(f.Spool.Dir, backoffName)); !os.IsNotExist(err) {
		t.Errorf("the record is still there (%v)", err)
	}
	f.Spool.setBackoff(time.Now().Add(time.Hour))
	if res := f.Forward("agentStop", payload(testPayload)); res.Status != "delivered" {
		t.Fatalf("%+v", res)
	}
	if n := len(c.acceptedList()); n != 1 {
		t.Fatalf("the collector took %d payloads, want 1", n)
	}
	if !strings.Contains(logText(t, f), "the clock was set back") {
		t.Errorf("log does not say why the Retry-After was dropped:\n%s", logText(t, f))
	}
}

// TestForwardUnauthorized: 401 keeps the payload and says so in the log.
func TestForwardUnauthorized(t *testing.T) {
	c := newCollector(t)
	c.setAnswer(func(r received, _ int) (int, http.Header, bool) {
		if r.Auth != "Bearer right" {
			return http.StatusUnauthorized, nil, false
		}
		return http.StatusAccepted, nil, false
	})
	f := testForwarder(t, c.URL())
	f.Client.Token = "wrong"
	res := f.Forward("sessionEnd", payload(testPayload))
	if res.Status != "spooled" || !strings.Contains(res.Reason, "401") {
		t.Fatalf("%+v", res)
	}
	if log := logText(t, f); !strings.Contains(log, "refused the token") || !strings.Contains(log, "--token-file") {
		t.Errorf("log does not explain the 401:\n%s", log)
	}
	f.Client.Token = "right"
	res2 := f.Forward("sessionEnd", payload(testPayload))
	if res2.Status != "delivered" || res2.Replay.Delivered != 1 {
		t.Fatalf("%+v", res2)
	}
	acc := c.acceptedList()
	if len(acc) != 2 || acc[0].ID != res.ID || acc[1].ID != res2.ID {
		t.Fatalf("accepted %v", acc)
	}
}

// TestForwardRejected: 400 and 413 drop the payload (retrying cannot help).
func TestForwardRejected(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge} {
		c := newCollector(t)
		c.setAnswer(func(received, int) (int, http.Header, bool) { return status, nil, false })
		f := testForwarder(t, c.URL())
		res := f.Forward("errorOccurred", payload(testPayload))
		if res.Status != "dropped" || !strings.Contains(res.Reason, fmt.Sprint(status)) {
			t.Fatalf("%d: %+v", status, res)
		}
		if ids := spoolIDs(t, f.Spool); len(ids) != 0 {
			t.Fatalf("%d: spooled %v", status, ids)
		}
		if !strings.Contains(logText(t, f), "dropped") {
			t.Errorf("%d: drop not logged", status)
		}
	}
}

// TestForwardBadInput: bad input never reaches the spool or fails.
func TestForwardBadInput(t *testing.T) {
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	f.MaxPayload = 1000
	for name, tc := range map[string]struct {
		typ, body, status string
	}{
		"unknown type": {"toolUsed", testPayload, "dropped"},
		"no type":      {"", testPayload, "dropped"},
		"empty":        {"agentStop", "  \n", "dropped"},
		"too big":      {"agentStop", `{"sessionId":"x","pad":"` + strings.Repeat("x", 2000) + `"}`, "dropped"},
		// Not a hook payload: the collector decides (and answers 400).
		"garbage": {"agentStop", "\x00\x01not json", "delivered"},
	} {
		res := f.Forward(tc.typ, payload(tc.body))
		if res.Status != tc.status {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if ids := spoolIDs(t, f.Spool); len(ids) != 0 {
		t.Errorf("spool holds %v", ids)
	}
}

func TestReadPayload(t *testing.T) {
	// Larger than the bound: read to the end (the CLI's write must not
	// fail) and refused.
	big := strings.Repeat("x", 5000)
	r := strings.NewReader(big)
	if _, err := readPayload(r, 1000, time.Second); err == nil || !strings.Contains(err.Error(), "5000 bytes") {
		t.Fatalf("err %v", err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread", r.Len())
	}
	// Stdin never closed: give up.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"sessionId":`)) }()
	start := time.Now()
	if _, err := readPayload(pr, 1000, 50*time.Millisecond); err == nil || time.Since(start) > time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

// TestSpoolOrderAndReplay: payloads spooled during an outage are delivered
// oldest first, before the payload of the hook that finds the collector
// back; a replay that fails keeps the order.
func TestSpoolOrderAndReplay(t *testing.T) {
	c := newCollector(t)
	down := func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false }
	c.setAnswer(down)
	f := testForwarder(t, c.URL())
	var want []string
	for i := 0; i < 5; i++ {
		res := f.Forward("postToolUse", payload(numbered(i)))
		if res.Status != "spooled" {
			t.Fatalf("%d: %+v", i, res)
		}
		want = append(want, res.ID)
	}
	if diff := strings.Join(spoolIDs(t, f.Spool), ","); diff != strings.Join(want, ",") {
		t.Fatalf("spool order %s, want %s", diff, strings.Join(want, ","))
	}
	// The collector takes two more, then fails again: the replay stops, and
	// the new payload goes behind the rest.
	c.setAnswer(func(_ received, n int) (int, http.Header, bool) {
		if n < 7 {
			return http.StatusAccepted, nil, false
		}
		return http.StatusServiceUnavailable, nil, false
	})
	res := f.Forward("postToolUse", payload(numbered(5)))
	if res.Status != "spooled" || res.Replay.Delivered != 2 || res.Replay.Pending != 3 {
		t.Fatalf("%+v", res)
	}
	want = append(want, res.ID)
	if got := strings.Join(spoolIDs(t, f.Spool), ","); got != strings.Join(want[2:], ",") {
		t.Fatalf("spool %s, want %s", got, strings.Join(want[2:], ","))
	}
	c.setAnswer(nil)
	res = f.Forward("postToolUse", payload(numbered(6)))
	if res.Status != "delivered" || res.Replay.Delivered != 4 {
		t.Fatalf("%+v", res)
	}
	want = append(want, res.ID)
	var got []string
	for _, r := range c.acceptedList() {
		got = append(got, r.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("delivered %v\nwant      %v", got, want)
	}
	for i, r := range c.acceptedList() {
		if !bytes.Contains(r.Body, []byte(fmt.Sprintf(`"seq":%d`, i))) {
			t.Errorf("delivery %d is %s", i, r.Body)
		}
	}
	if st, _ := f.Spool.Stats(); st.Payloads != 0 {
		t.Errorf("spool %+v", st)
	}
}

// TestSpoolBounds: over the bounds the oldest payloads go, and are counted.
func TestSpoolBounds(t *testing.T) {
	f := testForwarder(t, deadEndpoint(t))
	f.Spool.MaxFiles = 3
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, f.Forward("preToolUse", payload(numbered(i))).ID)
	}
	if got := spoolIDs(t, f.Spool); strings.Join(got, ",") != strings.Join(ids[2:], ",") {
		t.Fatalf("spool %v, want the newest %v", got, ids[2:])
	}
	if n := f.Spool.Dropped(); n != 2 {
		t.Errorf("dropped %d, want 2", n)
	}
	if !strings.Contains(logText(t, f), "dropped the 1 oldest") {
		t.Errorf("drop not logged:\n%s", logText(t, f))
	}

	// By size: each file is about 230 bytes.
	f = testForwarder(t, deadEndpoint(t))
	f.Spool.MaxBytes = 500
	for i := 0; i < 4; i++ {
		f.Forward("preToolUse", payload(numbered(i)))
	}
	st, err := f.Spool.Stats()
	if err != nil || st.Bytes > 500 || st.Payloads != 2 || st.Dropped != 2 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// A payload larger than the whole spool is dropped, and counted.
	res := f.Forward("preToolUse", payload(`{"sessionId":"x","pad":"`+strings.Repeat("y", 800)+`"}`))
	if res.Status != "dropped" || f.Spool.Dropped() != 3 {
		t.Fatalf("%+v, dropped %d", res, f.Spool.Dropped())
	}
}

// TestSpoolAbandonedClaim: a process that died while sending left its
// claim; the next replay sends it, first.
func TestSpoolAbandonedClaim(t *testing.T) {
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	old := Entry{Type: "sessionStart", ID: NewID(), Received: time.Now(), Body: []byte(numbered(0))}
	if _, err := f.Spool.Put(old); err != nil {
		t.Fatal(err)
	}
	it := mustItems(t, f.Spool)[0]
	if _, ok, err := f.Spool.claim(it); !ok || err != nil {
		t.Fatalf("claim: %t %v", ok, err)
	}
	// A stale temporary file, as left by a crash while writing.
	stale := filepath.Join(f.Spool.Dir, fmt.Sprintf("%s%d-%s", tmpPrefix, time.Now().Add(-time.Hour).UnixNano(), NewID()))
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := f.Forward("agentStop", payload(numbered(1)))
	if res.Status != "delivered" || res.Replay.Delivered != 1 {
		t.Fatalf("%+v\n%s", res, logText(t, f))
	}
	acc := c.acceptedList()
	if len(acc) != 2 || acc[0].ID != old.ID || acc[1].ID != res.ID {
		t.Fatalf("accepted %+v", acc)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file left: %v", err)
	}
}

// TestSpoolLockExcludes: a second holder is refused while the first holds
// the lock, and gets it once released.
func TestSpoolLockExcludes(t *testing.T) {
	if !filelock.IsReal {
		t.Skip("no real lock on this system")
	}
	s := &Spool{Dir: t.TempDir()}
	l1, ok, err := s.lock()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, err := s.lock(); ok || err != nil {
		t.Fatalf("second lock: %t %v", ok, err)
	}
	l1.Unlock()
	l2, ok, err := s.lock()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	l2.Unlock()
}

func TestSpoolFileFormat(t *testing.T) {
	e := Entry{Type: "agentStop", ID: NewID(), Received: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC), Body: []byte("{\n\n\"a\":1}\x00")}
	got, err := decode(encode(e))
	if err != nil || got.Type != e.Type || got.ID != e.ID || !got.Received.Equal(e.Received) || !bytes.Equal(got.Body, e.Body) {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "x\n\n", spoolMagic + "\ntype: a\n\n{}", spoolMagic + "\nid: " + e.ID + "\n\n{}"} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// Names sort in arrival order and carry the id and size.
	name := pendingName(1795363647009000000, e.ID, 321)
	sp, ok := parseName(name)
	if !ok || sp.id != e.ID || sp.size != 321 || sp.nanos != 1795363647009000000 || sp.claimed {
		t.Fatalf("%q: %+v", name, sp)
	}
	sp, ok = parseName(name + claimInfix + "01795363647009000001-42")
	if !ok || !sp.claimed || sp.base != name || sp.claimAt != 1795363647009000001 {
		t.Fatalf("claimed: %+v", sp)
	}
	for _, bad := range []string{"dropped", ".lock", "x.hook", "1-2-3.hook", name + ".tmp"} {
		if _, ok := parseName(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSpoolDrainBusy(t *testing.T) {
	if !filelock.IsReal {
		t.Skip("no real lock on this system")
	}
	f := testForwarder(t, deadEndpoint(t))
	f.Forward("agentStop", payload(testPayload))
	l, ok, err := f.Spool.lock()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	defer l.Unlock()
	d, err := f.Drain(20 * time.Millisecond)
	if err != nil || !d.Busy || d.Spool.Payloads != 1 {
		t.Fatalf("%+v %v", d, err)
	}
	// Another hook meanwhile goes behind what is spooled.
	c := newCollector(t)
	f.Client.Endpoint = c.URL()
	if res := f.Forward("agentStop", payload(testPayload)); res.Status != "spooled" || len(c.requests()) != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"86400":                         maxBackoff,
		"Sun, 22 Nov 2026 12:00:10 GMT": 10 * time.Second,
		"Sun, 22 Nov 2026 11:00:00 GMT": 0,
		"soon":                          0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("%q: %s, want %s", v, got, want)
		}
	}
}

func TestLoggerRotates(t *testing.T) {
	dir := t.TempDir()
	l := &Logger{Path: filepath.Join(dir, "sub", "hook.log"), MaxBytes: 1000, Level: LevelInfo}
	for i := 0; i < 100; i++ {
		l.Infof("line %d %s", i, strings.Repeat("x", 50))
		l.Debugf("not logged")
	}
	st, err := os.Stat(l.Path)
	if err != nil || st.Size() > 1000 {
		t.Fatalf("%v %v", st, err)
	}
	old, err := os.Stat(l.Path + ".1")
	if err != nil || old.Size() > 1000 {
		t.Fatalf("%v %v", old, err)
	}
	b, _ := os.ReadFile(l.Path)
	if !strings.Contains(string(b), "line 99") || strings.Contains(string(b), "not logged") {
		t.Errorf("log:\n%s", b)
	}
	var nilLogger *Logger
	nilLogger.Errorf("nothing happens")
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, errs := Resolve(Settings{StateDir: dir}, env(nil))
	if len(errs) != 0 || c.Endpoint != DefaultEndpoint || c.Token != "" || c.SpoolDir != filepath.Join(dir, "spool") ||
		c.Timeout != DefaultTimeout || c.SpoolMaxFiles != DefaultSpoolMaxFiles || c.SyncWait != DefaultSyncWait {
		t.Fatalf("defaults: %+v %v", c, errs)
	}
	c, errs = Resolve(Settings{StateDir: dir}, env(map[string]string{
		EnvEndpoint: "http://collector:4320", EnvTokenFile: tok, EnvSpoolDir: "/var/spool/x", EnvCopilotHome: "/h",
	}))
	if len(errs) != 0 || c.Endpoint != "http://collector:4320" || c.Token != "abc" || c.SpoolDir != "/var/spool/x" || c.CopilotHome != "/h" {
		t.Fatalf("env: %+v %v", c, errs)
	}
	// The flag wins over the environment; the token variable over the file.
	c, _ = Resolve(Settings{StateDir: dir, TokenFile: tok}, env(map[string]string{EnvToken: "zzz"}))
	if c.Token != "abc" {
		t.Errorf("token %q", c.Token)
	}
	c, _ = Resolve(Settings{StateDir: dir}, env(map[string]string{EnvToken: " zzz ", EnvTokenFile: tok}))
	if c.Token != "zzz" || c.TokenSource != EnvToken {
		t.Errorf("token %q from %s", c.Token, c.TokenSource)
	}
	for name, tc := range map[string]struct {
		s    Settings
		env  map[string]string
		want string
	}{
		"bad endpoint flag":   {Settings{Endpoint: "127.0.0.1:4320"}, nil, `--endpoint "127.0.0.1:4320"`},
		"bad endpoint env":    {Settings{}, map[string]string{EnvEndpoint: "ftp://x"}, EnvEndpoint},
		"missing token file":  {Settings{TokenFile: filepath.Join(dir, "nope")}, nil, "--token-file " + filepath.Join(dir, "nope")},
		"empty token file":    {Settings{}, map[string]string{EnvTokenFile: empty}, EnvTokenFile + "=" + empty + ": the file is empty"},
		"multi-line token":    {Settings{}, map[string]string{EnvToken: "a\nb"}, EnvToken + ": the token spans"},
		"bad sync hooks":      {Settings{SyncHooks: "agentStop,nope"}, nil, "--sync-hooks"},
		"bad log level":       {Settings{LogLevel: "loud"}, nil, EnvLogLevel},
		"endpoint with query": {Settings{Endpoint: "http://x/?a=1"}, nil, "query"},
	} {
		tc.s.StateDir = dir
		_, errs := Resolve(tc.s, env(tc.env))
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, errs, tc.want)
		}
	}
	if c, _ := Resolve(Settings{StateDir: dir, SyncHooks: "all"}, env(nil)); len(c.SyncHooks) != 13 {
		t.Errorf("all: %v", c.SyncHooks)
	}
	if c, _ := Resolve(Settings{StateDir: dir, SyncWait: -1}, env(nil)); c.SyncWait != 0 {
		t.Errorf("no wait: %v", c.SyncWait)
	}
}

// TestForwardReportsHostAndDrops: payloads name the machine they come from,
// and how many the spool has dropped over its bounds.
func TestForwardReportsHostAndDrops(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Endpoint: deadEndpoint(t), StateDir: t.TempDir()}
	if f := cfg.Forwarder(&Logger{}, "test"); f.Client.Host != host || f.Client.Dropped == nil || f.Client.Spool == nil {
		t.Fatalf("the configured forwarder sends host %q (want %q), drop count set: %v, spool id set: %v", f.Client.Host, host, f.Client.Dropped != nil, f.Client.Spool != nil)
	}

	f := testForwarder(t, deadEndpoint(t))
	f.Client.Host = "dev-box"
	f.Client.Dropped = f.Spool.Dropped
	f.Spool.MaxFiles = 1
	f.Forward("sessionStart", payload(numbered(1)))
	f.Forward("sessionStart", payload(numbered(2))) // the first one is dropped
	if n := f.Spool.Dropped(); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	c := newCollector(t)
	f.Client.Endpoint = c.URL()
	f.Forward("sessionEnd", payload(numbered(3)))
	got := c.requests()
	if len(got) == 0 {
		t.Fatal("nothing delivered")
	}
	for _, r := range got {
		if r.Host != "dev-box" || r.DroppedTotal != "1" {
			t.Errorf("request %s: host %q, dropped total %q", r.ID, r.Host, r.DroppedTotal)
		}
	}
}

// TestForwardReportsSpoolWithDrops: the drop total goes with the spool's
// identity, made once per spool directory, so that two spools of one
// machine (two users of a shared host) report two totals the collector
// can add up, not one it takes as the other's.
func TestForwardReportsSpoolWithDrops(t *testing.T) {
	c := newCollector(t)
	refuse := func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false }
	var ids []string
	seen := 0 // requests of earlier users
	for user, drops := range []int{5, 3} {
		c.setAnswer(refuse)
		f := testForwarder(t, c.URL())
		f.Client.Host = "devbox"
		f.Client.Dropped, f.Client.Spool = f.Spool.Dropped, f.Spool.ID
		f.Spool.MaxFiles = 1
		for i := 0; i <= drops; i++ {
			f.Forward("postToolUse", payload(numbered(i)))
		}
		if n := f.Spool.Dropped(); n != int64(drops) {
			t.Fatalf("user %d: dropped %d, want %d", user, n, drops)
		}
		c.setAnswer(nil)
		if res := f.Forward("sessionEnd", payload(numbered(99))); res.Status != "delivered" {
			t.Fatalf("user %d: %+v", user, res)
		}
		id := f.Spool.ID()
		if !hook.ValidForwarderID(id) || f.Spool.ID() != id {
			t.Fatalf("user %d: spool id %q, then %q", user, id, f.Spool.ID())
		}
		acc := c.acceptedList()
		if len(acc) == seen {
			t.Fatalf("user %d: nothing delivered", user)
		}
		for _, r := range acc[seen:] {
			if r.DroppedTotal != strconv.Itoa(drops) || r.Spool != id {
				t.Errorf("user %d, request %s: dropped total %q spool %q, want %d from spool %s", user, r.ID, r.DroppedTotal, r.Spool, drops, id)
			}
		}
		seen = len(acc)
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two spool directories have the same id %s", ids[0])
	}
}

// TestReplayKeepsPayloadOnReadError: a spooled payload that cannot be read
// for a reason that says nothing of the file (here an injected EIO; also
// too many open files, or a file another program holds on Windows) stays
// in the spool, in its place, and the replay stops; it is delivered by a
// later replay. Only a file that is read and is not a payload is dropped.
func TestReplayKeepsPayloadOnReadError(t *testing.T) {
	c := newCollector(t)
	c.setAnswer(func(received, int) (int, http.Header, bool) { return http.StatusServiceUnavailable, nil, false })
	f := testForwarder(t, c.URL())
	var ids []string
	for i := 0; i < 2; i++ {
		res := f.Forward("postToolUse", payload(numbered(i)))
		if res.Status != "spooled" {
			t.Fatalf("%+v", res)
		}
		ids = append(ids, res.ID)
	}
	c.setAnswer(nil)

	failing := ""
	f.Spool.readFile = func(path string) ([]byte, error) {
		if failing == "" {
			failing = filepath.Base(path)
		}
		if filepath.Base(path) == failing {
			return nil, &os.PathError{Op: "read", Path: path, Err: syscall.EIO}
		}
		return os.ReadFile(path)
	}
	d, err := f.Drain(time.Minute)
	if err != nil || d.Delivered != 0 || d.Dropped != 0 || d.Spool.Payloads != 2 || !strings.Contains(d.Stopped, "could not read") {
		t.Fatalf("drain with an unreadable payload: %+v %v", d, err)
	}
	if got := spoolIDs(t, f.Spool); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("spool holds %v, want %v in that order", got, ids)
	}

	f.Spool.readFile = nil
	d, err = f.Drain(time.Minute)
	if err != nil || d.Delivered != 2 || d.Spool.Payloads != 0 {
		t.Fatalf("drain once readable: %+v %v", d, err)
	}
	for i, r := range c.acceptedList() {
		if r.ID != ids[i] {
			t.Fatalf("delivered out of order: %d is %s, want %s", i, r.ID, ids[i])
		}
	}

	// A file that is read and is not a payload is dropped.
	name := pendingName(time.Now().UnixNano(), NewID(), 7)
	if err := os.WriteFile(filepath.Join(f.Spool.Dir, name), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err = f.Drain(time.Minute)
	if err != nil || d.Dropped != 1 || d.Spool.Payloads != 0 {
		t.Fatalf("drain with a corrupt payload: %+v %v", d, err)
	}
}

// TestSpoolWritesSurvivePowerLoss: a spooled payload reaches the disk
// before its name appears, and its directory is synced after, so that a
// power cut leaves it whole or not there, never cut short under a name the
// drain would read; a payload whose sync fails is not reported spooled.
func TestSpoolWritesSurvivePowerLoss(t *testing.T) {
	f := testForwarder(t, deadEndpoint(t))
	var events []string
	oldFile, oldDir := syncFile, syncDir
	t.Cleanup(func() { syncFile, syncDir = oldFile, oldDir })
	syncFile = func(fh *os.File) error {
		st, err := fh.Stat()
		if err != nil {
			return err
		}
		pending, _ := f.Spool.list()
		events = append(events, fmt.Sprintf("file %d bytes, %d named", st.Size(), len(pending)))
		return fh.Sync()
	}
	syncDir = func(dir string) {
		pending, _ := f.Spool.list()
		events = append(events, fmt.Sprintf("dir %s, %d named", filepath.Base(dir), len(pending)))
	}
	res := f.Forward("preToolUse", payload(numbered(1)))
	if res.Status != "spooled" {
		t.Fatalf("%+v", res)
	}
	st, err := f.Spool.Stats()
	if err != nil || st.Payloads != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	want := []string{fmt.Sprintf("file %d bytes, 0 named", st.Bytes), "dir spool, 1 named"}
	if strings.Join(events, "; ") != strings.Join(want, "; ") {
		t.Fatalf("syncs %q, want %q", events, want)
	}

	// A disk that cannot sync: the payload is not in the spool, and the
	// hook says it was dropped rather than spooled.
	syncFile = func(*os.File) error { return errors.New("input/output error") }
	res = f.Forward("preToolUse", payload(numbered(2)))
	if res.Status != "dropped" || !strings.Contains(res.Reason, "input/output error") {
		t.Fatalf("%+v", res)
	}
	names, err := os.ReadDir(f.Spool.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, n := range names {
		left = append(left, n.Name())
	}
	if got := spoolIDs(t, f.Spool); len(got) != 1 || got[0] == res.ID {
		t.Fatalf("spool %v after a failed sync of %s", got, res.ID)
	}
	if slices.ContainsFunc(left, func(n string) bool { return strings.HasPrefix(n, tmpPrefix) }) {
		t.Fatalf("a temporary file was left: %v", left)
	}
}
