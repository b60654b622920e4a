package forwarder

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
)

// TestForwardUsageOfRealHookPayloads forwards every real hook payload of
// the testdata with its real transcript, and checks that the usage the
// collector receives is what the collector's accounting makes of the whole
// transcript.
func TestForwardUsageOfRealHookPayloads(t *testing.T) {
	root := testdataRoot(t)
	hookFiles, _ := filepath.Glob(filepath.Join(root, "*", "hooks", "*.jsonl"))
	if len(hookFiles) == 0 {
		t.Fatal("no hook payloads in the testdata")
	}
	c := newCollector(t)
	var withUsage, without int
	for _, hf := range hookFiles {
		base := filepath.Dir(filepath.Dir(hf)) // .../1.0.102
		typ := strings.TrimSuffix(filepath.Base(hf), ".jsonl")
		f := testForwarder(t, c.URL())
		f.CopilotHome = base
		f.Usage.Roots = []string{SessionStateDir(base)}
		data, err := os.ReadFile(hf)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			// The payloads name the transcripts where the CLI wrote them.
			body := bytes.ReplaceAll(line, []byte("/home/dev/.copilot"), []byte(filepath.ToSlash(base)))
			res := f.Forward(typ, bytes.NewReader(body))
			if res.Status != "delivered" {
				t.Fatalf("%s: %s %s: %s", hf, typ, res.Status, res.Reason)
			}
			got := c.requests()[len(c.requests())-1]
			p, err := hook.Decode(got.Body, got.Type, hook.Options{})
			if err != nil {
				t.Fatalf("%s: the collector would reject the forwarded payload: %v", hf, err)
			}
			canon, _ := hook.Canonical(typ)
			if got.Type != canon || got.ID != res.ID || len(got.ID) != 32 {
				t.Fatalf("%s: sent as type %q id %q, want %q %q", hf, got.Type, got.ID, canon, res.ID)
			}
			// A subagent's own hooks name the subagent as their session:
			// the usage is of the session that runs it.
			path, err := TranscriptPath(base, p.OwnerSessionID(nil), p.TranscriptPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				if p.Usage != nil {
					t.Errorf("%s: usage added without a transcript at %s", hf, path)
				}
				without++
				continue
			}
			if p.Usage == nil {
				t.Fatalf("%s: no usage added for session %s (transcript %s): %s", hf, p.SessionID, path, logText(t, f))
			}
			want := fullUsage(t, path, usage.SessionIDOf(path))
			if diff := cmp.Diff(want, *p.Usage); diff != "" {
				t.Errorf("%s: %s usage differs from the collector's accounting (-want +got):\n%s", hf, typ, diff)
			}
			// The rest of the payload is as the CLI wrote it.
			var before, after map[string]json.RawMessage
			_ = json.Unmarshal(body, &before)
			_ = json.Unmarshal(got.Body, &after)
			delete(after, "usage")
			// And the session's context, from the transcript.
			if p.Context == nil || p.Context.GitRoot == "" || p.Context.Branch == "" {
				t.Errorf("%s: no sessionContext with the transcript's git root and branch: %+v", hf, p.Context)
			}
			delete(after, hook.SessionContextMember)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("%s: payload changed beyond usage and context:\n%s", hf, diff)
			}
			withUsage++
		}
	}
	t.Logf("%d payloads forwarded with usage, %d without a transcript", withUsage, without)
	if withUsage < 50 || without > 0 {
		t.Errorf("%d payloads had usage, %d had none", withUsage, without)
	}
}

// TestUsageOfEveryRealTranscript reads every transcript of the testdata
// (all recorded CLI versions, billed copies, resumed and killed sessions)
// through the forwarder's cached reader, from a payload that names only the
// session, and compares with a full read.
func TestUsageOfEveryRealTranscript(t *testing.T) {
	root := testdataRoot(t)
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "events.jsonl" {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 20 {
		t.Fatalf("found only %d transcripts", len(files))
	}
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	var billed int
	for _, path := range files {
		home := filepath.Dir(filepath.Dir(filepath.Dir(path))) // <home>/session-state/<id>/events.jsonl
		id := filepath.Base(filepath.Dir(path))
		f.CopilotHome = home
		res := f.Forward("sessionEnd", payload(`{"sessionId":"`+id+`","cwd":"/x","reason":"complete"}`))
		if res.Status != "delivered" || !res.Usage {
			t.Fatalf("%s: %s (usage %t) %s", path, res.Status, res.Usage, res.Reason)
		}
		reqs := c.requests()
		p, err := hook.Decode(reqs[len(reqs)-1].Body, hook.SessionEnd, hook.Options{})
		if err != nil || p.Usage == nil {
			t.Fatalf("%s: %v", path, err)
		}
		if diff := cmp.Diff(fullUsage(t, path, id), *p.Usage); diff != "" {
			t.Errorf("%s: usage differs (-want +got):\n%s", path, diff)
		}
		if p.Usage.TotalNanoAIU > 0 {
			billed++
		}
		// Once more: from the cache, nothing is read.
		u, err := f.Usage.Usage(path, nil)
		if err != nil || u.Read != 0 || u.Restart != "" {
			t.Errorf("%s: second read: %+v %v", path, u, err)
		}
		if diff := cmp.Diff(*p.Usage, u.Summary); diff != "" {
			t.Errorf("%s: cached usage differs:\n%s", path, diff)
		}
	}
	if billed == 0 {
		t.Error("no billed transcript was read")
	}
	t.Logf("%d transcripts, %d with nano-AIU", len(files), billed)
}

// largestTranscript is the biggest real transcript, for the incremental
// tests.
func largestTranscript(t *testing.T) string {
	root := testdataRoot(t)
	var best string
	var size int64
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "events.jsonl" {
			if st, err := os.Stat(p); err == nil && st.Size() > size {
				best, size = p, st.Size()
			}
		}
		return nil
	})
	return best
}

// TestUsageIncremental appends a real transcript to a copy piece by piece,
// cutting lines anywhere, and checks after each piece that the cached
// reader reads only what is new and agrees with a full read.
func TestUsageIncremental(t *testing.T) {
	src := largestTranscript(t)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "session-state", "s1", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	u := &UsageCounter{CacheDir: filepath.Join(dir, "cache")}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	written, lastOffset := 0, int64(0)
	for step := 0; written < len(data); step++ {
		n := min(len(data)-written, 700+step*911%4000) // pieces that cut lines anywhere
		if _, err := fh.Write(data[written : written+n]); err != nil {
			t.Fatal(err)
		}
		written += n
		res, err := u.Usage(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		complete := int64(bytes.LastIndexByte(data[:written], '\n') + 1)
		wantRestart := ""
		if step == 0 {
			wantRestart = "new"
		}
		if res.Offset != complete || res.Read != complete-lastOffset || res.Restart != wantRestart {
			t.Fatalf("step %d: offset %d read %d restart %q, want offset %d read %d", step, res.Offset, res.Read, res.Restart, complete, complete-lastOffset)
		}
		lastOffset = res.Offset
		if diff := cmp.Diff(fullUsage(t, path, "s1"), res.Summary); diff != "" {
			t.Fatalf("step %d: usage differs from a full read (-want +got):\n%s", step, diff)
		}
	}
	if got := fullUsage(t, path, "s1"); got.TokenDetails.Input == 0 {
		t.Fatal("the transcript counted nothing")
	}
}

// TestUsageReadAgain checks that a truncated or replaced transcript is
// read again as the receiver reads it (a session.Cursor in memory: nothing
// counted twice, nothing taken back), and that a broken cache means a
// fresh read.
func TestUsageReadAgain(t *testing.T) {
	root := testdataRoot(t)
	a := filepath.Join(root, "1.0.102", "session-state", "a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2", "events.jsonl")
	b := filepath.Join(root, "1.0.102", "session-state", "91298f1d-4404-4591-b87f-13b09d6dc9ce", "events.jsonl")
	dataA, _ := os.ReadFile(a)
	dataB, _ := os.ReadFile(b)
	dir := t.TempDir()
	path := filepath.Join(dir, "session-state", "s", "events.jsonl")
	cache := filepath.Join(dir, "cache")
	u := &UsageCounter{CacheDir: cache}
	ref := session.NewCursor(path, session.CursorOptions{}) // the receiver's reading, in memory
	write := func(d []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name, restart string) session.UsageSummary {
		t.Helper()
		res, err := u.Usage(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Restart != restart {
			t.Errorf("%s: restart %q, want %q", name, res.Restart, restart)
		}
		if _, err := ref.Update(nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ref.Tracker().Summary(), res.Summary); diff != "" {
			t.Errorf("%s: usage differs from the receiver's reading (-want +got):\n%s", name, diff)
		}
		return res.Summary
	}
	small, large := dataA, dataB
	if len(small) > len(large) {
		small, large = large, small
	}
	lines := bytes.SplitAfter(small, []byte("\n"))
	half := bytes.Join(lines[:len(lines)/2], nil)

	write(small)
	whole := check("first read", "new")
	if diff := cmp.Diff(fullUsage(t, path, "s"), whole); diff != "" {
		t.Fatalf("first read differs from a full read:\n%s", diff)
	}
	// Rewound (the CLI truncates a transcript when a conversation is
	// rewound): what was counted stays counted.
	write(half)
	if got := check("truncated", "file"); !cmp.Equal(got, whole) {
		t.Errorf("usage changed after truncation")
	}
	// Written again: nothing counted twice.
	write(small)
	if got := check("grown again", ""); !cmp.Equal(got, whole) {
		t.Errorf("usage after the file grew back differs from a full read:\n%s", cmp.Diff(whole, got))
	}
	write(large)
	check("replaced", "file") // the cursor reads it again, and says so
	if err := os.WriteFile(filepath.Join(cache, "s.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := u.Usage(path, nil)
	if err != nil || res.Restart != "cache" {
		t.Fatalf("broken cache: %+v %v", res.Restart, err)
	}
	if diff := cmp.Diff(fullUsage(t, path, "s"), res.Summary); diff != "" {
		t.Errorf("after a broken cache: usage differs from a full read:\n%s", diff)
	}
	if res, err := u.Usage(path, nil); err != nil || res.Restart != "" || res.Read != 0 {
		t.Errorf("after the broken cache: %+v %v", res, err)
	}
}

// TestUsageConcurrent runs many readers of one growing session at once:
// the cache is never corrupted and every reader's usage is consistent.
func TestUsageConcurrent(t *testing.T) {
	src := largestTranscript(t)
	data, _ := os.ReadFile(src)
	dir := t.TempDir()
	path := filepath.Join(dir, "session-state", "s", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cache := filepath.Join(dir, "cache")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := &UsageCounter{CacheDir: cache}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := u.Usage(path, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for off := 0; off < len(data); off += 997 {
		if _, err := fh.Write(data[off:min(off+997, len(data))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cache, "s.json"))
	if err != nil || !json.Valid(b) {
		t.Fatalf("cache corrupted: %v %q", err, b[:min(len(b), 100)])
	}
	res, err := (&UsageCounter{CacheDir: cache}).Usage(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fullUsage(t, path, "s"), res.Summary); diff != "" {
		t.Fatalf("usage differs after concurrent readers:\n%s", diff)
	}
}

// TestUsageSync waits for the CLI's hook.start line, as it is written
// asynchronously after the hook started, and gives up after SyncWait when
// it does not come.
func TestUsageSync(t *testing.T) {
	root := testdataRoot(t)
	src := filepath.Join(root, "1.0.102", "session-state", "5fc41fe9-2cf0-4410-b210-6aeb460047e4", "events.jsonl")
	data, _ := os.ReadFile(src)
	// Cut just before the agentStop hook.start: the last usage record is
	// only written by the CLI with it.
	k := bytes.Index(data, []byte(`"hookType":"agentStop"`))
	if k < 0 {
		t.Fatal("no agentStop hook.start in the transcript")
	}
	i := bytes.LastIndex(data[:k], []byte(`{"type":"hook.start"`))
	cut := bytes.LastIndex(data[:i], []byte(`{"type":"session.usage_record"`))
	if cut < 0 {
		t.Fatal("no usage record before agentStop")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "session-state", "s", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	agentStop := time.UnixMilli(1795363647009) // the payload's timestamp
	u := &UsageCounter{CacheDir: filepath.Join(dir, "cache"), SyncWait: 2 * time.Second}
	go func() {
		time.Sleep(60 * time.Millisecond)
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, _ = fh.Write(data[cut:])
			fh.Close()
		}
	}()
	res, err := u.Usage(path, &SyncPoint{HookType: hook.AgentStop, Time: agentStop})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Synced || res.Waited < 50*time.Millisecond {
		t.Errorf("synced %t after %s, want a wait for the hook.start line", res.Synced, res.Waited)
	}
	if diff := cmp.Diff(fullUsage(t, src, "s"), res.Summary); diff != "" {
		t.Errorf("usage after the wait differs from the whole transcript:\n%s", diff)
	}
	// A hook whose line never comes: the wait is bounded.
	u.SyncWait = 30 * time.Millisecond
	start := time.Now()
	res, err = u.Usage(path, &SyncPoint{HookType: hook.SessionEnd, Time: agentStop.Add(time.Hour)})
	if err != nil || res.Synced {
		t.Fatalf("synced %t, %v", res.Synced, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
		t.Errorf("gave up after %s, want about 30ms", d)
	}
}

// TestUsageCachePruned: caches of sessions untouched for CacheMaxAge go
// when a new session is cached.
func TestUsageCachePruned(t *testing.T) {
	root := testdataRoot(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-CacheMaxAge - time.Hour)
	for _, name := range []string{"gone.json", tmpPrefix + "gone.json-1-x"} {
		p := filepath.Join(cache, name)
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cache, "kept.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := &UsageCounter{CacheDir: cache}
	path := filepath.Join(root, "1.0.102", "session-state", "5fc41fe9-2cf0-4410-b210-6aeb460047e4", "events.jsonl")
	if _, err := u.Usage(path, nil); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(cache, "*"))
	var got []string
	for _, n := range names {
		got = append(got, filepath.Base(n))
	}
	if strings.Join(got, ",") != "5fc41fe9-2cf0-4410-b210-6aeb460047e4.json,kept.json" {
		t.Errorf("cache holds %v", got)
	}
}

// TestForwardConfinesTranscriptPath: a payload naming a transcript outside
// the Copilot home's session-state is forwarded without usage, and nothing
// outside is read.
func TestForwardConfinesTranscriptPath(t *testing.T) {
	root := testdataRoot(t)
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	f.CopilotHome = t.TempDir()
	f.Usage.Roots = []string{SessionStateDir(f.CopilotHome)}
	outside := filepath.Join(root, "1.0.102", "session-state", "5fc41fe9-2cf0-4410-b210-6aeb460047e4", "events.jsonl")
	// A link inside the root to a file outside is refused too.
	link := filepath.Join(SessionStateDir(f.CopilotHome), "s", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Skip(err)
	}
	for _, p := range []string{outside, link, filepath.Join(SessionStateDir(f.CopilotHome), "..", "..", "x", "events.jsonl")} {
		res := f.Forward("agentStop", payload(`{"sessionId":"s","transcriptPath":`+strconv.Quote(p)+`}`))
		if res.Status != "delivered" || res.Usage {
			t.Errorf("%s: %+v", p, res)
		}
	}
	if log := logText(t, f); !strings.Contains(log, "not under") {
		t.Errorf("log:\n%s", log)
	}
	// A session id that cannot name a directory is not looked up.
	res := f.Forward("agentStop", payload(`{"sessionId":"../../etc"}`))
	if res.Status != "delivered" || res.Usage {
		t.Errorf("%+v", res)
	}
}

// TestForwardUsageTranscriptPathRefused: a transcriptPath outside
// COPILOT_HOME is not read; the session's own transcript is used instead.
func TestForwardUsageTranscriptPathRefused(t *testing.T) {
	base := filepath.Join(testdataRoot(t), "1.0.102")
	c := newCollector(t)
	f := testForwarder(t, c.URL())
	f.CopilotHome = base
	f.Usage.Roots = []string{SessionStateDir(base)}
	const id = "91298f1d-4404-4591-b87f-13b09d6dc9ce"
	outside := filepath.Join(t.TempDir(), id, "events.jsonl")
	body := `{"sessionId":"` + id + `","timestamp":1795363648845,"transcriptPath":"` + filepath.ToSlash(outside) + `","stopReason":"end_turn"}`
	if res := f.Forward("agentStop", bytes.NewReader([]byte(body))); res.Status != "delivered" {
		t.Fatalf("%+v", res)
	}
	got := c.requests()[0]
	p, err := hook.Decode(got.Body, got.Type, hook.Options{})
	if err != nil || p.Usage == nil {
		t.Fatalf("no usage (%v): %s", err, got.Body)
	}
	want := fullUsage(t, filepath.Join(base, "session-state", id, "events.jsonl"), id)
	if diff := cmp.Diff(want, *p.Usage); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestUsageCacheVersion1 reads a cache written by the version before the
// session.Cursor (testdata/usage-cache-v1.json, the state of a usage.File
// that read the first 1748 bytes of a real transcript, written by that
// version): it is upgraded, not ignored, so that the next hook reads only
// what follows, and the cache is then written in the current version.
func TestUsageCacheVersion1(t *testing.T) {
	src := filepath.Join(testdataRoot(t), "1.0.102", "session-state", "5fc41fe9-2cf0-4410-b210-6aeb460047e4", "events.jsonl")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "session-state", "s", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join("testdata", "usage-cache-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(path)
	old = bytes.ReplaceAll(old, []byte(`"@TRANSCRIPT@"`), quoted)
	cache := filepath.Join(dir, "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "s.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	u := &UsageCounter{CacheDir: cache}
	res, err := u.Usage(path, &SyncPoint{HookType: hook.UserPromptSubmitted, Time: time.UnixMilli(1795363646855)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Restart != "" || res.Read != int64(len(data))-1748 {
		t.Fatalf("the version 1 cache was not used: restart %q, read %d of %d bytes", res.Restart, res.Read, len(data))
	}
	if !res.Synced {
		t.Error("the hook times of the version 1 cache were lost")
	}
	if diff := cmp.Diff(fullUsage(t, path, "s"), res.Summary); diff != "" {
		t.Fatalf("usage differs from a full read (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(cache, "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c usageCache
	if err := json.Unmarshal(b, &c); err != nil || c.Version != usageCacheVersion || c.File != nil || c.Checkpoint == nil {
		t.Fatalf("cache not rewritten in version %d: %v %s", usageCacheVersion, err, b[:min(len(b), 200)])
	}
}
