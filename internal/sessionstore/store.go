// Package sessionstore reads the usage Copilot CLI keeps in its session
// store, $COPILOT_HOME/session-store.db: SQLite in WAL mode, written by the
// CLI while it runs, with one row per model call in assistant_usage_events,
// committed as the call ends. The transcript (events.jsonl) holds the same
// calls, but the CLI writes it in batches, so during a session the store is
// often ahead of it.
//
// The reader never gets in the CLI's way: the database is opened read-only
// (mode=ro, PRAGMA query_only), every query is one autocommit statement
// whose rows are read and closed before it returns (no read transaction
// outlives a query, so the CLI's checkpoints are never held up), and a
// lock is waited for at most BusyTimeout. A WAL reader takes no lock the
// writer waits for.
//
// Stores of older CLIs differ: schema_version (a one-row table of that
// name; 8 in CLI 1.0.102) says which, and the columns of
// assistant_usage_events are read from PRAGMA table_info, so a column the
// store lacks reads as zero. What cannot be read is one of the sentinel
// errors (ErrNoStore, ErrBusy, ErrCorrupt, ErrNoUsageTable), for the caller
// to fall back on the transcript.
//
// The driver is modernc.org/sqlite (SQLite translated to Go): no cgo, so
// the hook binary still cross-compiles; see the package README for the
// measurements behind the choice.
package sessionstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the store's name in COPILOT_HOME.
const FileName = "session-store.db"

// Path is where the CLI keeps its store under copilotHome.
func Path(copilotHome string) string { return filepath.Join(copilotHome, FileName) }

// BusyTimeout is the longest a query waits for a lock the CLI holds
// (only a store not in WAL mode, or a WAL recovery, makes a reader wait).
const BusyTimeout = 50 * time.Millisecond

// UsageTable is the table of per-call usage.
const UsageTable = "assistant_usage_events"

// Errors a caller turns into a fallback to the transcript. Each error
// Open and the queries return wraps one of them, or is a context error.
var (
	// ErrNoStore: there is no store at the path (an older CLI, or none
	// ran yet).
	ErrNoStore = errors.New("no session store")
	// ErrBusy: the store stayed locked for BusyTimeout.
	ErrBusy = errors.New("the session store is locked")
	// ErrCorrupt: the file is not a readable SQLite database.
	ErrCorrupt = errors.New("the session store is not a readable SQLite database")
	// ErrNoUsageTable: the store has no assistant_usage_events table with
	// a session_id column (an older schema).
	ErrNoUsageTable = errors.New("the session store has no " + UsageTable + " table")
)

// Store is an open session store. Its methods may be called concurrently;
// it holds one connection.
type Store struct {
	path    string
	db      *sql.DB
	version int
	// cols are the usage table's columns; a query that finds them
	// changed (the CLI migrated the store) replaces them, which another
	// query may be reading at the time.
	cols atomic.Pointer[map[string]bool]
}

// Open opens the store at path read-only, reads its schema version and
// the columns of its usage table. A store without the usage table is
// ErrNoUsageTable.
func Open(path string) (*Store, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w at %s", ErrNoStore, path)
	case err != nil:
		return nil, fmt.Errorf("session store %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("session store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	s := &Store{path: path, db: db}
	ctx, cancel := context.WithTimeout(context.Background(), 10*BusyTimeout)
	defer cancel()
	if err := s.introspect(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// dsn is the driver's name for path: a read-only URI with a busy timeout
// and query_only, its path escaped so that '?', '#' and '%' in a directory
// name stay part of it.
func dsn(path string) string {
	p := filepath.ToSlash(path)
	if runtime.GOOS == "windows" && !strings.HasPrefix(p, "/") {
		p = "/" + p // file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, OmitHost: true}
	if strings.HasPrefix(p, "//") {
		u.OmitHost = false
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q["_pragma"] = []string{
		"busy_timeout(" + strconv.FormatInt(BusyTimeout.Milliseconds(), 10) + ")",
		"query_only(1)",
	}
	return u.String() + "?" + q.Encode()
}

// introspect reads the schema version and the usage table's columns.
func (s *Store) introspect(ctx context.Context) error {
	var version sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&version)
	if err != nil && !isNoSuchTable(err) {
		return s.wrap(err)
	}
	s.version = int(version.Int64)
	cols, err := s.columns(ctx)
	if err != nil {
		return err
	}
	if !cols["session_id"] {
		return fmt.Errorf("%w (%s, schema version %d)", ErrNoUsageTable, s.path, s.version)
	}
	s.cols.Store(&cols)
	return nil
}

func (s *Store) columns(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, UsageTable)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, s.wrap(err)
		}
		cols[strings.ToLower(name)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err)
	}
	return cols, nil
}

// Close closes the store; nil-safe.
func (s *Store) Close() error {
	if s == nil || s.db == nil {
		return nil
	}
	return s.db.Close()
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// SchemaVersion is the store's schema_version (8 for CLI 1.0.102), 0 when
// it has none.
func (s *Store) SchemaVersion() int { return s.version }

// HasColumn reports whether the usage table has the column.
func (s *Store) HasColumn(name string) bool { return s.columnSet()[name] }

// columnSet is the usage table's columns as last read.
func (s *Store) columnSet() map[string]bool {
	if c := s.cols.Load(); c != nil {
		return *c
	}
	return nil
}

// wrap classifies a driver error into the package's sentinels.
func (s *Store) wrap(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w (%s): %v", ErrBusy, s.path, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_FORMAT:
			return fmt.Errorf("%w (%s): %v", ErrCorrupt, s.path, err)
		case sqlite3.SQLITE_CANTOPEN:
			if _, serr := os.Stat(s.path); errors.Is(serr, fs.ErrNotExist) {
				return fmt.Errorf("%w at %s", ErrNoStore, s.path)
			}
		}
	}
	return fmt.Errorf("session store %s: %w", s.path, err)
}

func isNoSuchTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

func isNoSuchColumn(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such column")
}
