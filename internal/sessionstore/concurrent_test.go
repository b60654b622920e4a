package sessionstore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer process is this test binary run with writerEnv set: it
// creates a store as the CLI does (WAL mode, the CLI's table) and commits
// transactions of rowsPerTx rows until it has committed phase1 of them
// alone and then until the stop file exists, timing each commit. It waits
// for no lock (busy_timeout 0): a commit the reader kept waiting fails it. Every row
// satisfies an invariant, and each transaction's rows share a turn_index,
// so a reader sees a torn row or a torn transaction as a broken invariant.
const (
	writerEnv = "SESSIONSTORE_TEST_WRITER"
	rowsPerTx = 3
	phase1    = 150 // transactions before the reader starts
)

const cliUsageTable = `CREATE TABLE assistant_usage_events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT NOT NULL,
	turn_index INTEGER,
	agent_id TEXT,
	parent_tool_call_id TEXT,
	model TEXT NOT NULL,
	copilot_usage_model TEXT,
	input_tokens INTEGER,
	output_tokens INTEGER,
	cache_read_tokens INTEGER,
	cache_write_tokens INTEGER,
	reasoning_tokens INTEGER,
	total_nano_aiu INTEGER,
	request_multiplier REAL,
	duration_ms INTEGER,
	time_to_first_token_ms INTEGER,
	output_ttft_ms REAL,
	inter_token_latency_ms INTEGER,
	initiator TEXT,
	api_endpoint TEXT,
	reasoning_effort TEXT,
	finish_reason TEXT,
	content_filter_triggered INTEGER,
	token_details_json TEXT,
	created_at TEXT DEFAULT (datetime('now')))`

// commit is one of the writer's commits.
type commit struct {
	Start int64 `json:"s"` // unix ns
	Dur   int64 `json:"d"` // ns
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(writerEnv); dir != "" {
		if err := runWriter(dir); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runWriter(dir string) error {
	path := filepath.Join(dir, FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (8)`,
		cliUsageTable,
		`CREATE INDEX idx_assistant_usage_events_session ON assistant_usage_events(session_id, id)`,
	} {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	fmt.Println("ready")
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	stop := filepath.Join(dir, "stop")
	for tx := int64(1); ; tx++ {
		if tx > phase1 {
			if _, err := os.Stat(stop); err == nil {
				return nil
			}
		}
		if tx == phase1 {
			if err := os.WriteFile(filepath.Join(dir, "phase2"), nil, 0o600); err != nil {
				return err
			}
		}
		t, err := db.Begin()
		if err != nil {
			return err
		}
		for i := range int64(rowsPerTx) {
			n := tx*10 + i
			// The invariant: input = 2*cache_read + 1, output = reasoning + 7,
			// duration = n, nano-AIU = 1000*n, all from n.
			_, err := t.Exec(`INSERT INTO assistant_usage_events (session_id, turn_index, agent_id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, total_nano_aiu, request_multiplier, duration_ms, time_to_first_token_ms, initiator, token_details_json, created_at)
				VALUES (?, ?, ?, 'gpt-4.1', ?, ?, ?, 0, ?, ?, 1, ?, ?, ?, ?, ?)`,
				"s"+strconv.FormatInt(tx%2, 10), tx, "", 2*n+1, n+7, n, n, 1000*n, n, float64(n)+0.5,
				map[bool]string{true: "user", false: "agent"}[i == 0], `{"n":`+strconv.FormatInt(n, 10)+`}`,
				time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
			if err != nil {
				_ = t.Rollback()
				return err
			}
		}
		start := time.Now()
		if err := t.Commit(); err != nil {
			return fmt.Errorf("commit %d: %w", tx, err)
		}
		if err := enc.Encode(commit{start.UnixNano(), time.Since(start).Nanoseconds()}); err != nil {
			return err
		}
	}
}

func TestReadWhileWriterProcessAppends(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "the writer starts")
	require.Equal(t, "ready", lines.Text())
	var commits []commit
	done := make(chan error, 1)
	go func() {
		for lines.Scan() {
			var c commit
			if err := json.Unmarshal(lines.Bytes(), &c); err != nil {
				done <- err
				return
			}
			commits = append(commits, c)
		}
		done <- lines.Err()
	}()

	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "phase2"))
		return err == nil
	}, time.Minute, time.Millisecond, "the writer commits alone first")

	// Read as the forwarder and a receiver do, with fresh opens and one
	// long-lived store, until the writer has committed 600 more
	// transactions under the reader.
	readerStart := time.Now()
	ctx := context.Background()
	long, err := Open(filepath.Join(dir, FileName))
	require.NoError(t, err)
	defer long.Close()
	var after int64
	reads, rowsRead := 0, 0
	var exited error
	writerDone := false
	for maxRowID := int64(0); maxRowID < (phase1+600)*rowsPerTx; reads++ {
		select {
		case exited = <-done:
			writerDone = true
		default:
		}
		if writerDone {
			require.NoError(t, cmd.Wait(), "the writer stopped early: a commit failed (it waits for no lock: busy_timeout 0)")
			require.NoError(t, exited)
			t.Fatal("the writer stopped early")
		}
		s := long
		if reads%4 == 0 {
			s, err = Open(filepath.Join(dir, FileName))
			require.NoError(t, err)
		}
		for _, id := range []string{"s0", "s1"} {
			u, _, err := s.SessionUsage(ctx, id)
			require.NoError(t, err)
			// Whole transactions only, and sums that keep the invariant.
			require.Zero(t, u.Calls%rowsPerTx, "a transaction torn: %d calls", u.Calls)
			td := u.Summary.TokenDetails
			require.Equal(t, 2*td.CacheRead+u.Calls, td.Input)
			require.Equal(t, td.Reasoning+7*u.Calls, td.Output)
			require.Equal(t, 1000*td.CacheRead, u.Summary.TotalNanoAIU)
			require.Equal(t, td.CacheRead, u.Summary.TotalAPIDurationMs)
			require.Equal(t, u.Calls/rowsPerTx, u.Summary.TotalUserRequests)
			maxRowID = max(maxRowID, u.LastRowID)
		}
		rows, err := s.Rows(ctx, after, 50)
		require.NoError(t, err)
		for _, r := range rows {
			require.Equal(t, after+1, r.RowID, "rows in order, none skipped")
			after = r.RowID
			n := r.CacheReadTokens
			require.Equal(t, 2*n+1, r.InputTokens, "row %d", r.RowID)
			require.Equal(t, n+7, r.OutputTokens, "row %d", r.RowID)
			require.Equal(t, n, r.ReasoningTokens, "row %d", r.RowID)
			require.Equal(t, 1000*n, r.TotalNanoAIU, "row %d", r.RowID)
			require.True(t, r.HasNanoAIU)
			require.Equal(t, n, r.DurationMs, "row %d", r.RowID)
			require.InDelta(t, float64(n)+0.5, r.TimeToFirstTokenMs, 1e-9, "row %d", r.RowID)
			require.Equal(t, r.TurnIndex, n/10, "row %d", r.RowID)
			require.Equal(t, fmt.Sprintf(`{"n":%d}`, n), r.TokenDetailsJSON)
			require.False(t, r.CreatedAt.IsZero())
		}
		rowsRead += len(rows)
		if s != long {
			require.NoError(t, s.Close())
		}
	}
	readerEnd := time.Now()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600))
	require.NoError(t, <-done)
	require.NoError(t, cmd.Wait(), "the writer never failed a commit")

	var alone, read []time.Duration
	for _, c := range commits {
		start := time.Unix(0, c.Start)
		switch {
		case start.Before(readerStart):
			alone = append(alone, time.Duration(c.Dur))
		case start.Before(readerEnd):
			read = append(read, time.Duration(c.Dur))
		}
	}
	require.NotEmpty(t, alone)
	require.NotEmpty(t, read)
	pct := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, int(p*float64(len(d))))]
	}
	t.Logf("%d reads (%d rows) during %d commits; commit time alone p50 %s p99 %s max %s; while reading p50 %s p99 %s max %s",
		reads, rowsRead, len(read), pct(alone, .5), pct(alone, .99), pct(alone, 1), pct(read, .5), pct(read, .99), pct(read, 1))
	// The reader never makes a commit wait for a lock: the writer, which
	// waits for none, committed every transaction. Its commit times under
	// the reader are bounded generously for a shared machine (the reader's
	// CPU is taken from the writer's on two cores).
	assert.Less(t, pct(read, .99), pct(alone, 1)+BusyTimeout)
}
