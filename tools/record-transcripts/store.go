package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the driver internal/sessionstore reads stores with
)

// storeFile is the CLI's session store, $COPILOT_HOME/session-store.db
// (SQLite in WAL mode, with -wal and -shm beside it), and the name of its
// recorded copy.
const storeFile = "session-store.db"

// copyStore keeps the session store the CLI left in HOME's .copilot, if
// any, as one self-contained file dst/session-store.db: the database is
// copied with its -wal and -shm into a temporary directory, the WAL is
// checkpointed into the copy (PRAGMA wal_checkpoint(TRUNCATE)) and the copy
// switched to a rollback journal, so that reading the committed file needs
// no -wal beside it. The CLI's own files are not touched. It reports
// whether there was a store.
func (r *recorder) copyStore(dst string) (bool, error) {
	src := filepath.Join(r.home, ".copilot", storeFile)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "record-store-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := copyFile(src+suffix, filepath.Join(tmp, storeFile+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	db := filepath.Join(tmp, storeFile)
	if err := sqlite(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;"); err != nil {
		return false, fmt.Errorf("checkpointing the copy of %s: %w", src, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err == nil {
			return false, fmt.Errorf("%s%s is still there after the checkpoint", storeFile, suffix)
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return false, err
	}
	return true, copyFile(db, filepath.Join(dst, storeFile))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sqlite runs SQL statements on db (read-write: the recorder's own copy)
// with the pure-Go driver the repository reads stores with, so that
// recording needs no sqlite3 shell. Statements are separated by ";".
func sqlite(db, statements string) error {
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, st := range strings.Split(statements, ";") {
		if strings.TrimSpace(st) == "" {
			continue
		}
		rows, err := conn.Query(st) // a PRAGMA answers rows; read them all
		if err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(st), err)
		}
		for rows.Next() {
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(st), err)
		}
	}
	return nil
}

// storeFacts is what the manifest reports about a recorded store, all of it
// read from the file.
type storeFacts struct {
	Bytes         int64
	SchemaVersion string // "" when the store keeps none
	Tables        []string
	HasUsage      bool // has the assistant_usage_events table
	// Usage sums assistant_usage_events per session and model.
	Usage []storeUsage
}

type storeUsage struct {
	Session    string `json:"session_id"`
	Model      string `json:"model"`
	Calls      int64  `json:"calls"`
	Input      int64  `json:"input"`
	Output     int64  `json:"output"`
	CacheRead  int64  `json:"cache_read"`
	CacheWrite int64  `json:"cache_write"`
	Reasoning  int64  `json:"reasoning"`
	NanoAIU    *int64 `json:"nano_aiu"`
}

func readStoreFacts(db string) (*storeFacts, error) {
	fi, err := os.Stat(db)
	if err != nil {
		return nil, err
	}
	f := &storeFacts{Bytes: fi.Size()}
	var tables []struct {
		Name string `json:"name"`
	}
	if err := query(db, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search_index_%' ORDER BY name", &tables); err != nil {
		return nil, err
	}
	for _, t := range tables {
		f.Tables = append(f.Tables, t.Name)
		switch t.Name {
		case "assistant_usage_events":
			f.HasUsage = true
		case "schema_version":
			var v []map[string]any
			if err := query(db, "SELECT * FROM schema_version", &v); err != nil {
				return nil, err
			}
			var parts []string
			for _, row := range v {
				for _, k := range sortedKeys(row) {
					parts = append(parts, fmt.Sprint(row[k]))
				}
			}
			f.SchemaVersion = strings.Join(parts, ", ")
		}
	}
	if f.HasUsage {
		err := query(db, `SELECT session_id, model, count(*) AS calls,
			coalesce(sum(input_tokens),0) AS input, coalesce(sum(output_tokens),0) AS output,
			coalesce(sum(cache_read_tokens),0) AS cache_read, coalesce(sum(cache_write_tokens),0) AS cache_write,
			coalesce(sum(reasoning_tokens),0) AS reasoning, sum(total_nano_aiu) AS nano_aiu
			FROM assistant_usage_events GROUP BY session_id, model ORDER BY session_id, model`, &f.Usage)
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// query runs a query and decodes its JSON rows into v; no rows is an empty
// result (the shell prints nothing).
func query(db, q string, v any) error {
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.Query(q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := map[string]any{}
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
			row[c] = vals[i]
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Into v as the sqlite3 shell's -json output was read: by column name.
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// storesDir is where -stores records by default.
const storesDir = "testdata/copilot-cli/stores"

type storeCase struct {
	c   caseDef
	ses []*sessionFacts
}

// writeStoreSection adds to the manifest what each case's session store
// holds and how its usage compares with the transcript's.
func writeStoreSection(b *strings.Builder, out string, cases []storeCase) error {
	b.WriteString("\n## Session stores\n\n")
	b.WriteString("`session-store.db` as the case left it (checkpointed; see above). \"schema_version\" is the `version` in its `schema_version` table; \"usage rows\" counts rows of `assistant_usage_events`; `–` means no store or no such table.\n\n")
	b.WriteString("| case | CLI version per leg | store | schema_version | assistant_usage_events | usage rows | bytes | tables |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	facts := map[string]*storeFacts{}
	for _, sc := range cases {
		var versions []string
		for _, l := range sc.c.Legs {
			versions = append(versions, l.Version)
		}
		db := filepath.Join(out, sc.c.Name, storeFile)
		if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(b, "| %s | %s | none | – | – | – | – | |\n", sc.c.Name, strings.Join(versions, " → "))
			continue
		}
		f, err := readStoreFacts(db)
		if err != nil {
			return fmt.Errorf("%s: %w", db, err)
		}
		facts[sc.c.Name] = f
		usage, rows := "no", "–"
		if f.HasUsage {
			usage = "yes"
			n := int64(0)
			for _, u := range f.Usage {
				n += u.Calls
			}
			rows = fmt.Sprint(n)
		}
		fmt.Fprintf(b, "| %s | %s | yes | %s | %s | %s | %d | %s |\n", sc.c.Name, strings.Join(versions, " → "),
			orDash(f.SchemaVersion), usage, rows, f.Bytes, strings.Join(f.Tables, ", "))
	}

	b.WriteString("\n### Store and transcript\n\n")
	b.WriteString("Per session and model: the sums of the store's `assistant_usage_events` rows (calls = rows; `nano_aiu` is `–` where every row has NULL, as under bring-your-own-key), and the transcript's **last** `session.shutdown` (`modelMetrics`, cumulative over every leg). \"equal\" compares calls and the five token counts.\n\n")
	b.WriteString("| case | session | model | source | calls | input | output | cache_read | cache_write | reasoning | nano_aiu | equal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range cases {
		f := facts[sc.c.Name]
		if f == nil || !f.HasUsage {
			continue
		}
		for _, u := range f.Usage {
			var last *metric
			for _, s := range sc.ses {
				if s.ID == u.Session && len(s.Shutdowns) > 0 {
					last = s.Shutdowns[len(s.Shutdowns)-1].Models[u.Model]
				}
			}
			nano := "–"
			if u.NanoAIU != nil {
				nano = fmt.Sprint(*u.NanoAIU)
			}
			equal := "no shutdown"
			if last != nil {
				equal = "no"
				if last.String() == (&metric{&u.Calls, &u.Input, &u.Output, &u.CacheRead, &u.CacheWrite, &u.Reasoning}).String() {
					equal = "yes"
				}
			}
			fmt.Fprintf(b, "| %s | `%s` | %s | store | %d | %d | %d | %d | %d | %d | %s | %s |\n",
				sc.c.Name, u.Session, u.Model, u.Calls, u.Input, u.Output, u.CacheRead, u.CacheWrite, u.Reasoning, nano, equal)
			if last != nil {
				fmt.Fprintf(b, "| %s | `%s` | %s | last shutdown | %s | – | |\n", sc.c.Name, u.Session, u.Model, last)
			}
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

const storesHead = `# Recorded Copilot CLI session stores

Each ` + "`<case>/`" + ` here holds what a real GitHub Copilot CLI (npm package ` + "`@github/copilot`" + `,
the version named per case) left for one session, recorded by ` + "`tools/record-transcripts -stores`" + `
exactly as the transcripts of ` + "`../recorded/`" + ` (read its MANIFEST for the setup: offline,
bring-your-own-key against the fake provider on 127.0.0.1, model ` + "`gpt-4.1`" + `,
` + "`HOME=/home/dev`" + `, a fresh ` + "`~/.copilot`" + ` per case): ` + "`session-state/<sessionId>/events.jsonl`" + ` and
` + "`workspace.yaml`" + ` (system prompts replaced by a placeholder, as there), ` + "`recording.json`" + `, and
` + "`session-store.db`" + `, the CLI's ` + "`$COPILOT_HOME/session-store.db`" + ` when the version writes one.

The CLI keeps its store in WAL mode. The recorder copies the database with its ` + "`-wal`" + ` and
` + "`-shm`" + ` after the CLI has exited, checkpoints the WAL into the copy
(` + "`PRAGMA wal_checkpoint(TRUNCATE)`" + `) and switches the copy to a rollback journal
(` + "`PRAGMA journal_mode=DELETE`" + `), so each committed ` + "`session-store.db`" + ` is one self-contained
file with every row the CLI committed; nothing in it is edited. Its only path is the
session's working directory under ` + "`/home/dev`" + `.

These cases are apart from ` + "`../recorded/`" + `, whose files golden tests depend on; they were
recorded later, so their session ids and timestamps differ from the cases of the same name
there.

## Re-recording

    go run ./tools/record-transcripts -stores -cli-dir <cli-dir> -home /home/dev

(` + "`-only`" + ` and ` + "`-manifest`" + ` work as for
` + "`../recorded/`" + `.)
`
