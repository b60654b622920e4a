package sessionstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

// The fixture: CLI 1.0.102, offline against internal/testsupport/
// fakeprovider, ran the "simple" scenario (one shell call, two model calls)
// and the "subagent" scenario (an explore subagent: two calls of the main
// agent, two of the subagent) in one COPILOT_HOME. The store was copied
// with its -wal and -shm and checkpointed (PRAGMA wal_checkpoint(TRUNCATE))
// on the copy; the transcripts are the CLI's, with the system prompts
// replaced by their length.
const (
	fixtureDir      = "testdata/1.0.102"
	simpleSession   = "1b078137-3bce-4173-9716-0203e2433bad"
	subagentSession = "484fbd51-1aaf-45c3-b3ff-ae6ec8e80c30"
	subagentAgentID = "e942fc40-6dc2-45c1-8d81-8884f11c2f79"
)

// fixture copies the recorded store to a fresh directory (a WAL-mode
// database is opened with its -shm beside it) and opens it.
func fixture(t *testing.T) *Store {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, FileName))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), FileName)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// transcriptSummary is the session's usage as the receiver and the
// forwarder account it from its transcript.
func transcriptSummary(t *testing.T, id string) session.UsageSummary {
	t.Helper()
	c := session.NewCursor(filepath.Join(fixtureDir, "session-state", id, "events.jsonl"), session.CursorOptions{})
	_, err := c.Update(nil)
	require.NoError(t, err)
	return c.Tracker().Summary()
}

func TestRealStoreEqualsTranscriptShutdown(t *testing.T) {
	s := fixture(t)
	assert.Equal(t, 8, s.SchemaVersion())
	for _, id := range []string{simpleSession, subagentSession} {
		t.Run(id, func(t *testing.T) {
			got, ok, err := s.SessionUsage(context.Background(), id)
			require.NoError(t, err)
			require.True(t, ok)

			// The CLI's final accounting: the shutdown's totals.
			acc, err := cliaccounting.File(filepath.Join(fixtureDir, "session-state", id, "events.jsonl"), nil)
			require.NoError(t, err)
			require.Equal(t, 1, acc.Shutdowns)
			require.Len(t, got.Summary.ModelMetrics, len(acc.Models))
			for model, want := range acc.Models {
				m := got.Summary.ModelMetrics[model]
				assert.Equal(t, want.Requests, m.Requests.Count, model)
				assert.InDelta(t, want.PremiumCost, m.Requests.PremiumCost, 1e-9, model)
				assert.Equal(t, want.InputTokens, m.Usage.InputTokens, model)
				assert.Equal(t, want.OutputTokens, m.Usage.OutputTokens, model)
				assert.Equal(t, want.CacheReadTokens, m.Usage.CacheReadTokens, model)
				assert.Equal(t, want.CacheWriteTokens, m.Usage.CacheWriteTokens, model)
				assert.Equal(t, want.ReasoningTokens, m.Usage.ReasoningTokens, model)
				assert.Equal(t, want.NanoAIU, m.TotalNanoAIU, model)
			}
			assert.Equal(t, acc.Total().Requests, got.Calls)

			// And field by field the transcript accounting's summary,
			// user-initiated requests and API time included.
			assert.Equal(t, transcriptSummary(t, id), got.Summary)
		})
	}
}

func TestRealStoreRows(t *testing.T) {
	s := fixture(t)
	rows, err := s.Rows(context.Background(), 0, 0)
	require.NoError(t, err)
	require.Len(t, rows, 6)
	for i, r := range rows {
		assert.Equal(t, int64(i+1), r.RowID)
	}
	sub := rows[3]
	assert.Equal(t, subagentSession, sub.SessionID, "a subagent's call carries its parent's session")
	assert.Equal(t, subagentAgentID, sub.AgentID)
	assert.Equal(t, "sub-agent", sub.Initiator)
	assert.Equal(t, "gpt-4.1", sub.Model)
	assert.Equal(t, int64(1948), sub.InputTokens)
	assert.Equal(t, int64(974), sub.CacheReadTokens)
	assert.Equal(t, int64(30), sub.OutputTokens)
	assert.Equal(t, int64(5), sub.ReasoningTokens)
	assert.False(t, sub.HasNanoAIU, "bring-your-own-key: total_nano_aiu is NULL")
	assert.Equal(t, int64(20), sub.DurationMs)
	assert.InDelta(t, 16.544754, sub.TimeToFirstTokenMs, 1e-9, "a REAL in an INTEGER column")
	assert.Equal(t, "low", sub.ReasoningEffort)
	assert.Equal(t, "tool_calls", sub.FinishReason)
	assert.Equal(t, "/chat/completions", sub.APIEndpoint)
	assert.Equal(t, time.Date(2026, 12, 7, 13, 58, 6, 248e6, time.UTC), sub.CreatedAt)
	assert.Equal(t, "user", rows[0].Initiator)
	assert.Empty(t, rows[0].AgentID)

	after, err := s.Rows(context.Background(), 2, 3)
	require.NoError(t, err)
	require.Len(t, after, 3)
	assert.Equal(t, []int64{3, 4, 5}, []int64{after[0].RowID, after[1].RowID, after[2].RowID})
	none, err := s.Rows(context.Background(), 6, 10)
	require.NoError(t, err)
	assert.Empty(t, none)

	_, ok, err := s.SessionUsage(context.Background(), "no-such-session")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestRealStoreSession(t *testing.T) {
	s := fixture(t)
	info, ok, err := s.Session(context.Background(), subagentSession)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, SessionInfo{
		ID: subagentSession, Cwd: "/tmp/storerec/home/repo", Branch: "feature/PAY-4411-refund-retries",
		Summary:   "Do the task [scenario:subagent]",
		CreatedAt: time.Date(2026, 12, 7, 13, 58, 4, 815e6, time.UTC), UpdatedAt: time.Date(2026, 12, 7, 13, 58, 5, 535e6, time.UTC),
	}, info)
	_, ok, err = s.Session(context.Background(), "no-such-session")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestOpenNoStore(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), FileName))
	require.ErrorIs(t, err, ErrNoStore)
}

func TestOpenCorrupt(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage":        []byte("this is not a database at all, just some bytes\x00\x01\x02\xff"),
		"garbage 8 KiB":  garbage(8192),
		"damaged header": damagedHeader(t),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			require.NoError(t, os.WriteFile(path, content, 0o600))
			s, err := Open(path)
			if err == nil {
				// A damage SQLite only notices on reading pages.
				_, _, err = s.SessionUsage(context.Background(), simpleSession)
				_ = s.Close()
			}
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
	t.Run("directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), FileName)
		require.NoError(t, os.Mkdir(path, 0o700))
		_, err := Open(path)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

func garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 13)
	}
	return b
}

// damagedHeader is the fixture with its page size bytes destroyed.
func damagedHeader(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join(fixtureDir, FileName))
	require.NoError(t, err)
	b[16], b[17] = 0x00, 0x03
	return b
}

// create makes a store in WAL mode with the given statements, the way the
// CLI's would be (or an older one's).
func create(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range append([]string{"PRAGMA journal_mode=WAL"}, stmts...) {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	return path
}

func TestOpenOldSchemaWithoutUsageTable(t *testing.T) {
	path := create(t,
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (3)`,
		`CREATE TABLE sessions (id TEXT PRIMARY KEY, cwd TEXT)`,
	)
	_, err := Open(path)
	require.ErrorIs(t, err, ErrNoUsageTable)

	empty := create(t)
	_, err = Open(empty)
	require.ErrorIs(t, err, ErrNoUsageTable)
}

func TestOldSchemaWithFewerColumns(t *testing.T) {
	path := create(t,
		// No schema_version table, and only some of the columns.
		`CREATE TABLE assistant_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, model TEXT NOT NULL, input_tokens INTEGER, output_tokens INTEGER, created_at TEXT)`,
		`INSERT INTO assistant_usage_events (session_id, model, input_tokens, output_tokens, created_at) VALUES ('s1', 'm1', 100, 7, '2026-12-07T10:00:00.000Z'), ('s1', 'm2', 50, 3, NULL), ('s2', 'm1', 1, 1, NULL)`,
	)
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, 0, s.SchemaVersion())
	assert.True(t, s.HasColumn("input_tokens"))
	assert.False(t, s.HasColumn("cache_read_tokens"))

	u, ok, err := s.SessionUsage(context.Background(), "s1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(2), u.Calls)
	assert.Equal(t, int64(2), u.LastRowID)
	assert.Equal(t, session.TokenDetails{Input: 150, Output: 10}, u.Summary.TokenDetails)
	assert.Equal(t, int64(0), u.Summary.TotalUserRequests, "no initiator column")
	assert.Equal(t, int64(1), u.Summary.ModelMetrics["m2"].Requests.Count)

	_, ok, err = s.Session(context.Background(), "s1")
	require.NoError(t, err)
	assert.False(t, ok, "no sessions table")

	rows, err := s.Rows(context.Background(), 0, 0)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, Row{RowID: 1, SessionID: "s1", Model: "m1", InputTokens: 100, OutputTokens: 7,
		CreatedAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}, rows[0])
}

// migratedStore opens a store, then drops a column of its usage table
// the reader knew of, as a CLI migrating it would; db writes to it as the
// CLI does. Both close with the test.
func migratedStore(t *testing.T) (s *Store, db *sql.DB) {
	t.Helper()
	path := create(t,
		`CREATE TABLE assistant_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, model TEXT, input_tokens INTEGER, legacy INTEGER)`,
		`INSERT INTO assistant_usage_events (session_id, model, input_tokens) VALUES ('s1', 'm', 10)`,
	)
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	db, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`ALTER TABLE assistant_usage_events DROP COLUMN input_tokens`)
	require.NoError(t, err)
	return s, db
}

func TestStoreMigratedWhileOpen(t *testing.T) {
	s, db := migratedStore(t)
	u, ok, err := s.SessionUsage(context.Background(), "s1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(1), u.Calls)
	assert.False(t, s.HasColumn("input_tokens"))
	// And drops the table.
	_, err = db.Exec(`DROP TABLE assistant_usage_events`)
	require.NoError(t, err)
	_, err = s.Rows(context.Background(), 0, 0)
	require.ErrorIs(t, err, ErrNoUsageTable)
}

// TestStoreMigratedWhileReadConcurrently: a Store's methods may be called
// concurrently, also when the CLI changed the usage table's columns since
// it was opened and the queries read them again (go test -race).
func TestStoreMigratedWhileReadConcurrently(t *testing.T) {
	s, _ := migratedStore(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.SessionUsage(context.Background(), "s1")
			assert.NoError(t, err)
			assert.True(t, ok)
			_, err = s.Rows(context.Background(), 0, 0)
			assert.NoError(t, err)
			_, _, err = s.SessionSpan(context.Background(), "s1")
			assert.NoError(t, err)
			assert.False(t, s.HasColumn("input_tokens"))
		}()
	}
	wg.Wait()
}

// TestHighestRowID: the highest rowid the usage table has had, which
// deleting its last rows does not lower (AUTOINCREMENT), and a table
// without AUTOINCREMENT's highest rowid.
func TestHighestRowID(t *testing.T) {
	ctx := context.Background()
	s := fixture(t)
	n, err := s.HighestRowID(ctx)
	require.NoError(t, err)
	rows, err := s.Rows(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, rows[len(rows)-1].RowID, n)

	path := create(t,
		`CREATE TABLE assistant_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL)`,
		`INSERT INTO assistant_usage_events (session_id) VALUES ('s1'), ('s1'), ('s2')`,
		`DELETE FROM assistant_usage_events WHERE session_id = 's2'`,
	)
	st, err := Open(path)
	require.NoError(t, err)
	defer st.Close()
	n, err = st.HighestRowID(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "a deleted row's rowid is not given again")

	plain := create(t, `CREATE TABLE assistant_usage_events (session_id TEXT NOT NULL)`)
	st2, err := Open(plain)
	require.NoError(t, err)
	defer st2.Close()
	n, err = st2.HighestRowID(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n, "empty, no sqlite_sequence")
}

func TestLockedStore(t *testing.T) {
	schema := []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (8)`,
		`CREATE TABLE assistant_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, model TEXT, input_tokens INTEGER)`,
		`INSERT INTO assistant_usage_events (session_id, model, input_tokens) VALUES ('s1', 'm', 10)`,
	}
	for _, tc := range []struct {
		name    string
		journal string
		lock    []string
	}{
		// A rollback-journal store whose writer is committing: EXCLUSIVE
		// keeps every reader out.
		{"rollback journal, EXCLUSIVE", "DELETE", []string{"BEGIN EXCLUSIVE", "INSERT INTO assistant_usage_events (session_id) VALUES ('s1')"}},
		// A WAL store whose writer took the database for itself.
		{"WAL, locking_mode EXCLUSIVE", "WAL", []string{"PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", "INSERT INTO assistant_usage_events (session_id) VALUES ('s1')", "COMMIT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			w, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			defer w.Close()
			w.SetMaxOpenConns(1)
			ctx := context.Background()
			conn, err := w.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			for _, s := range append(append([]string{"PRAGMA journal_mode=" + tc.journal}, schema...), tc.lock...) {
				_, err := conn.ExecContext(ctx, s)
				require.NoError(t, err, s)
			}

			start := time.Now()
			_, err = Open(path)
			require.ErrorIs(t, err, ErrBusy)
			// It gave up after about the busy timeout, not later.
			assert.Less(t, time.Since(start), 20*BusyTimeout)

			// Once the writer lets go, the same store reads.
			_, err = conn.ExecContext(ctx, "ROLLBACK")
			if err != nil {
				_, err = conn.ExecContext(ctx, "PRAGMA locking_mode=NORMAL")
				require.NoError(t, err)
				_, err = conn.ExecContext(ctx, "SELECT count(*) FROM assistant_usage_events") // releases the lock
				require.NoError(t, err)
			}
			require.NoError(t, conn.Close())
			s, err := Open(path)
			require.NoError(t, err)
			defer s.Close()
			_, ok, err := s.SessionUsage(ctx, "s1")
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

// TestReservedStoreReads: a rollback-journal store whose writer holds
// RESERVED (it has begun writing, not committing) is read as committed.
func TestReservedStoreReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	conn, err := w.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for _, s := range []string{
		"PRAGMA journal_mode=DELETE",
		`CREATE TABLE assistant_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, model TEXT, input_tokens INTEGER)`,
		`INSERT INTO assistant_usage_events (session_id, model, input_tokens) VALUES ('s1', 'm', 10)`,
		"BEGIN IMMEDIATE",
		`INSERT INTO assistant_usage_events (session_id, model, input_tokens) VALUES ('s1', 'm', 5)`,
	} {
		_, err := conn.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	u, ok, err := s.SessionUsage(ctx, "s1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(1), u.Calls, "the uncommitted row is not seen")
	assert.Equal(t, int64(10), u.Summary.TokenDetails.Input)
	_, err = conn.ExecContext(ctx, "COMMIT")
	require.NoError(t, err, "the reader did not keep the writer from committing")
}

func TestReadOnly(t *testing.T) {
	s := fixture(t)
	_, err := s.db.Exec(`INSERT INTO assistant_usage_events (session_id, model) VALUES ('x', 'y')`)
	require.Error(t, err, "the store is opened read-only")
	_, err = s.db.Exec(`PRAGMA journal_mode=DELETE`)
	mode := ""
	require.NoError(t, s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestDSNEscapesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%d e")
	require.NoError(t, os.Mkdir(dir, 0o700))
	b, err := os.ReadFile(filepath.Join(fixtureDir, FileName))
	require.NoError(t, err)
	path := filepath.Join(dir, FileName)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, 8, s.SchemaVersion())
}

// TestAhead: the store is taken over the transcript only when it counts
// more calls and holds everything the transcript counts, per model.
func TestAhead(t *testing.T) {
	summary := func(calls, input int64) session.UsageSummary {
		return session.UsageSummary{ModelMetrics: map[string]session.ModelSummary{
			"gpt-4.1": {Requests: session.RequestSummary{Count: calls}, Usage: session.TokenSummary{InputTokens: input}},
		}}
	}
	store := func(calls, input int64) Usage { return Usage{Calls: calls, Summary: summary(calls, input)} }
	tr := summary(5, 30000)
	assert.True(t, store(7, 40000).Ahead(tr), "mid-turn: the calls finished since")
	assert.False(t, store(5, 30000).Ahead(tr), "a tie: the transcript")
	assert.False(t, store(6, 14000).Ahead(tr), "more calls, less usage: the store lacks the first leg")
	other := Usage{Calls: 7, Summary: session.UsageSummary{ModelMetrics: map[string]session.ModelSummary{
		"claude-sonnet-4": {Requests: session.RequestSummary{Count: 7}, Usage: session.TokenSummary{InputTokens: 90000}},
	}}}
	assert.False(t, other.Ahead(tr), "none of the transcript's model")
	assert.True(t, store(1, 10).Ahead(session.UsageSummary{}), "no transcript usage yet")
}
