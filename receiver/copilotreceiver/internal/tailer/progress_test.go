package tailer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// The real transcripts of CLI 1.0.102 the backlog tests read.
const (
	billedSessions = "../../../../testdata/copilot-cli/1.0.102-billed/session-state"
	reposSessions  = "../../../../testdata/copilot-cli/1.0.102-repos/session-state"
)

// messages are the messages logged at Info and above, in order.
func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}

func withPrefix(logs *observer.ObservedLogs, prefix string) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, e := range logs.All() {
		if strings.HasPrefix(e.Message, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestWaitsForTheFirstSession: started before the CLI ever ran (no
// session-state directory, nor its parent), the tailer says it waits, and
// reads the first session once the CLI creates the directories.
func TestWaitsForTheFirstSession(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".copilot")
	dir := filepath.Join(home, "session-state")
	core, logs := observer.New(zapcore.InfoLevel)
	c := &collector{}
	cfg := testConfig(dir)
	cfg.IncludeNote = "the default, under COPILOT_HOME=" + home
	tl := New(cfg, nil, []pipeline.Signal{c.signal()}, nopObserver{}, zap.New(core))
	require.NoError(t, tl.Start(context.Background()))
	defer func() { require.NoError(t, tl.Stop(context.Background())) }()

	require.Eventually(t, func() bool { return logs.Len() > 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"Waiting for the Copilot CLI's first session in " + dir + " (the default, under COPILOT_HOME=" + home +
		"): the directory does not exist yet; sessions are read as soon as the CLI writes them there"}, messages(logs))

	// The CLI's first run: its directories, then a session.
	src := filepath.Join(billedSessions, "0b1e1ed0-5a1e-4c0d-9b11-000000000001", "events.jsonl")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	sess := filepath.Join(dir, "0b1e1ed0-5a1e-4c0d-9b11-000000000001")
	require.NoError(t, os.MkdirAll(sess, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sess, "events.jsonl"), data, 0o644))
	require.Eventually(t, func() bool { return len(c.get().Usage) == 4 }, 10*time.Second, 10*time.Millisecond,
		"the session's four usage records")
	assert.Len(t, withPrefix(logs, "Caught up"), 0, "nothing was there to catch up with")
}

// TestStartLineOfAnEmptyDirectory: the directory exists, no session yet.
func TestStartLineOfAnEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	core, logs := observer.New(zapcore.InfoLevel)
	tl := New(testConfig(dir), nil, nil, nopObserver{}, zap.New(core))
	require.NoError(t, tl.Start(context.Background()))
	defer func() { require.NoError(t, tl.Stop(context.Background())) }()
	require.Eventually(t, func() bool { return logs.Len() > 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "Following Copilot CLI sessions in "+filepath.Join(dir, "*", "events.jsonl")+": no sessions yet", logs.All()[0].Message)
}

// copySessions copies session-state directories into dir.
func copySessions(t *testing.T, dir string, from ...string) {
	t.Helper()
	for _, f := range from {
		require.NoError(t, os.CopyFS(dir, os.DirFS(f)))
	}
}

// TestCaughtUp: the backlog of real transcripts is read, and one line says
// so with the counts of the files: 1.0.102-billed has 4 + 6 + 4 usage
// records of 4737390000 + 4635767500 + 5713850000 nano-AIU; 1.0.102-repos
// 4 + 5 + 4 + 2 records, no AI credits (bring-your-own-key). Their sizes
// add up to 115360 + 121790 bytes. A restart, with everything checkpointed,
// has nothing to catch up with.
func TestCaughtUp(t *testing.T) {
	dir := t.TempDir()
	copySessions(t, dir, billedSessions, reposSessions)
	store := storageclient.NewMemory()
	// run runs the tailer until a line starting with wait is logged.
	run := func(wait string) *observer.ObservedLogs {
		core, logs := observer.New(zapcore.InfoLevel)
		c := &collector{}
		tl := New(testConfig(dir), store, []pipeline.Signal{c.signal()}, nopObserver{}, zap.New(core))
		require.NoError(t, tl.Start(context.Background()))
		require.Eventually(t, func() bool { return len(withPrefix(logs, wait)) > 0 }, 10*time.Second, 10*time.Millisecond)
		require.NoError(t, tl.Stop(context.Background()))
		return logs
	}
	logs := run("Caught up")
	pattern := filepath.Join(dir, "*", "events.jsonl")
	msgs := messages(logs)
	require.Len(t, msgs, 2, "%q", msgs)
	assert.Equal(t, "Following Copilot CLI sessions in "+pattern+": 7 sessions to read (237.2 kB)", msgs[0])
	assert.Regexp(t, `^Caught up: 7 sessions, 29 usage records, 15\.0870075 AI credits \(237\.2 kB in [0-9.]+m?s\); new usage is exported as it is written$`, msgs[1])
	caught := withPrefix(logs, "Caught up")[0].ContextMap()
	assert.Equal(t, int64(29), caught["usage_records"])
	assert.Equal(t, int64(15087007500), caught["nano_aiu"])
	assert.Equal(t, int64(237150), caught["bytes"])

	logs = run("Following")
	assert.Equal(t, []string{"Following Copilot CLI sessions in " + pattern + ": 7 sessions, all read before"}, messages(logs))
}

// TestProgress: while the backlog is read, a line every ProgressInterval
// of the tailer's clock, at most. The clock moves one second per round
// delivered (rounds of at most 20 events), so with an interval of 3s there
// is a line after every third round.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	copySessions(t, dir, billedSessions)
	clock := fakeclock.New(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	rounds := 0
	tick := pipeline.Signal{Name: "logs", Consume: func(context.Context, *session.Facts) error {
		mu.Lock()
		defer mu.Unlock()
		rounds++
		clock.Advance(time.Second)
		return nil
	}}
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(dir)
	cfg.Now = clock.Now
	cfg.MaxRoundEvents = 20
	cfg.ProgressInterval = 3 * time.Second
	tl := New(cfg, nil, []pipeline.Signal{tick}, nopObserver{}, zap.New(core))
	require.NoError(t, tl.Start(context.Background()))
	require.Eventually(t, func() bool { return len(withPrefix(logs, "Caught up")) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, tl.Stop(context.Background()))

	mu.Lock()
	n := rounds
	mu.Unlock()
	// 52 + 79 + 57 events (one a line) in rounds of 20, a round going on
	// from one file into the next: 9 full rounds and one of 8.
	require.Equal(t, 10, n)
	progress := withPrefix(logs, "Reading the sessions already written: ")
	require.Len(t, progress, n/3, "%q", messages(logs))
	// After round 3 (the clock at 3s): the 52 lines of file 1 (32741
	// bytes) and the first 8 of file 2 (3232 bytes), 35973 bytes in 3s.
	assert.Equal(t, "Reading the sessions already written: 1 of 3 sessions, 36.0 kB of 115.4 kB, 12.0 kB/s", progress[0].Message)
	for i, p := range progress {
		f := p.ContextMap()
		assert.Equal(t, int64(3), f["sessions"])
		assert.Equal(t, int64(115360), f["bytes"])
		if i > 0 {
			assert.Greater(t, f["bytes_done"], progress[i-1].ContextMap()["bytes_done"])
		}
	}
	last := progress[len(progress)-1].ContextMap()
	assert.Equal(t, int64(2), last["sessions_done"])
	assert.Regexp(t, `^Caught up: 3 sessions, 14 usage records, 15\.0870075 AI credits \(115\.4 kB in 10s\)`, withPrefix(logs, "Caught up")[0].Message)
}

// TestNoProgressLines: an interval of 0 turns progress lines off.
func TestNoProgressLines(t *testing.T) {
	dir := t.TempDir()
	copySessions(t, dir, billedSessions)
	clock := fakeclock.New(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC))
	tick := pipeline.Signal{Name: "logs", Consume: func(context.Context, *session.Facts) error { clock.Advance(time.Hour); return nil }}
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(dir)
	cfg.Now = clock.Now
	cfg.MaxRoundEvents = 20
	tl := New(cfg, nil, []pipeline.Signal{tick}, nopObserver{}, zap.New(core))
	require.NoError(t, tl.Start(context.Background()))
	require.Eventually(t, func() bool { return len(withPrefix(logs, "Caught up")) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, tl.Stop(context.Background()))
	assert.Empty(t, withPrefix(logs, "Reading"))
}

func TestHumanBytesAndCredits(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 115360: "115.4 kB", 237150: "237.2 kB", 12_345_678: "12.3 MB", 9_876_543_210: "9.9 GB", 12_000_000_000_000: "12000.0 GB"} {
		assert.Equal(t, want, humanBytes(n), n)
	}
	for n, want := range map[int64]string{0: "0", 15087007500: "15.0870075", 1: "0.000000001", 3e9: "3"} {
		assert.Equal(t, want, credits(n), n)
	}
}

// TestCaughtUpAtEnd: with start_at end the history is read, not exported,
// and the caught-up line says so.
func TestCaughtUpAtEnd(t *testing.T) {
	dir := t.TempDir()
	copySessions(t, dir, billedSessions)
	core, logs := observer.New(zapcore.InfoLevel)
	c := &collector{}
	cfg := testConfig(dir)
	cfg.StartAtEnd = true
	tl := New(cfg, nil, []pipeline.Signal{c.signal()}, nopObserver{}, zap.New(core))
	require.NoError(t, tl.Start(context.Background()))
	require.Eventually(t, func() bool { return len(withPrefix(logs, "Caught up")) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, tl.Stop(context.Background()))
	assert.Regexp(t, `^Caught up: 3 sessions read in [0-9.]+[µnm]?s without exporting their history \(start_at: end\); new usage is exported as it is written$`,
		withPrefix(logs, "Caught up")[0].Message)
	assert.Empty(t, c.get().Usage)
}
