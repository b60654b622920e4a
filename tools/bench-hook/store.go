package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// makeStore copies the session store at src to dst, adds the level
// session (a copy of storeSession's rows) and n rows of 500 other
// sessions, as a store used for a while holds, and checkpoints it. It
// returns the rows the store holds.
func makeStore(src, dst string, n int) (int, error) {
	if err := copyFile(src, dst); err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", dst)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	cols := `turn_index, agent_id, parent_tool_call_id, model, copilot_usage_model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, total_nano_aiu, request_multiplier, duration_ms, time_to_first_token_ms, output_ttft_ms, inter_token_latency_ms, initiator, api_endpoint, reasoning_effort, finish_reason, content_filter_triggered, token_details_json, created_at`
	if _, err := tx.Exec(`INSERT INTO assistant_usage_events (session_id, `+cols+`) SELECT ?, `+cols+` FROM assistant_usage_events WHERE session_id = ? ORDER BY id`, levelSession, storeSession); err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	for i := range n {
		_, err := tx.Exec(`INSERT INTO assistant_usage_events (session_id, turn_index, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, request_multiplier, duration_ms, initiator, api_endpoint, finish_reason, content_filter_triggered, created_at)
			VALUES (?, ?, 'claude-sonnet-4.6', 12000, 300, 6000, 0, 40, 1, 900, ?, '/chat/completions', 'stop', 0, '2026-12-01T10:00:00.000Z')`,
			"bench-"+strconv.Itoa(i%500), i/500, map[bool]string{true: "user", false: "agent"}[i%5 == 0])
		if err != nil {
			_ = tx.Rollback()
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	var rows int
	err = db.QueryRow(`SELECT count(*) FROM assistant_usage_events`).Scan(&rows)
	return rows, err
}

// copyLines copies the first n lines of src to dst.
func copyLines(src, dst string, n int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if n < len(lines) {
		lines = lines[:n]
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, bytes.Join(lines, nil), 0o644)
}

// checkSources makes sure the store variants measured what they say: the
// usage last given out came from the store when it is ahead, from the
// transcript when level.
func checkSources(work string) error {
	for _, c := range []struct{ state, session, want string }{
		{"store-ahead", storeSession, "store"},
		{"store-level", levelSession, "transcript"},
	} {
		b, err := os.ReadFile(filepath.Join(work, c.state, "hook-usage", c.session+".json"))
		if err != nil {
			return err
		}
		var cache struct {
			Sent struct {
				Source string `json:"source"`
				Calls  int64  `json:"calls"`
			} `json:"sent"`
		}
		if err := json.Unmarshal(b, &cache); err != nil {
			return err
		}
		if cache.Sent.Source != c.want || cache.Sent.Calls != 4 {
			return fmt.Errorf("%s: the usage came from the %q with %d calls, want the %s with 4", c.state, cache.Sent.Source, cache.Sent.Calls, c.want)
		}
	}
	return nil
}
