package sessionstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Row is one model call of assistant_usage_events. A column the store
// lacks, or NULL, reads as the zero value.
type Row struct {
	// RowID is the row's rowid (the table's id): increasing, for readers
	// that resume after the last row they read.
	RowID int64
	// SessionID is the session the call counts in. A subagent's calls
	// carry the session of the agent that started it, with AgentID set
	// (the transcript records them under the subagent's own
	// sourceSessionId); the CLI's final accounting of a session is the sum
	// of its rows.
	SessionID         string
	TurnIndex         int64
	AgentID           string
	ParentToolCallID  string
	Model             string
	CopilotUsageModel string
	// InputTokens includes the cached tokens, OutputTokens the reasoning
	// tokens, as in the transcript.
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	// TotalNanoAIU is NULL (HasNanoAIU false) under bring-your-own-key.
	TotalNanoAIU           int64
	HasNanoAIU             bool
	RequestMultiplier      float64
	DurationMs             int64
	TimeToFirstTokenMs     float64
	OutputTTFTMs           float64
	InterTokenLatencyMs    float64
	Initiator              string // user, agent, sub-agent, ...
	APIEndpoint            string
	ReasoningEffort        string
	FinishReason           string
	ContentFilterTriggered bool
	TokenDetailsJSON       string
	// CreatedAt is when the call ended (UTC); zero when absent or not a
	// time.
	CreatedAt time.Time
}

// rowColumns are the columns Rows reads, in Row's order, with where each
// goes.
var rowColumns = []struct {
	name string
	set  func(r *Row, v any)
}{
	{"session_id", func(r *Row, v any) { r.SessionID = asString(v) }},
	{"turn_index", func(r *Row, v any) { r.TurnIndex = asInt(v) }},
	{"agent_id", func(r *Row, v any) { r.AgentID = asString(v) }},
	{"parent_tool_call_id", func(r *Row, v any) { r.ParentToolCallID = asString(v) }},
	{"model", func(r *Row, v any) { r.Model = asString(v) }},
	{"copilot_usage_model", func(r *Row, v any) { r.CopilotUsageModel = asString(v) }},
	{"input_tokens", func(r *Row, v any) { r.InputTokens = asInt(v) }},
	{"output_tokens", func(r *Row, v any) { r.OutputTokens = asInt(v) }},
	{"cache_read_tokens", func(r *Row, v any) { r.CacheReadTokens = asInt(v) }},
	{"cache_write_tokens", func(r *Row, v any) { r.CacheWriteTokens = asInt(v) }},
	{"reasoning_tokens", func(r *Row, v any) { r.ReasoningTokens = asInt(v) }},
	{"total_nano_aiu", func(r *Row, v any) { r.TotalNanoAIU, r.HasNanoAIU = asInt(v), v != nil }},
	{"request_multiplier", func(r *Row, v any) { r.RequestMultiplier = asFloat(v) }},
	{"duration_ms", func(r *Row, v any) { r.DurationMs = asInt(v) }},
	{"time_to_first_token_ms", func(r *Row, v any) { r.TimeToFirstTokenMs = asFloat(v) }},
	{"output_ttft_ms", func(r *Row, v any) { r.OutputTTFTMs = asFloat(v) }},
	{"inter_token_latency_ms", func(r *Row, v any) { r.InterTokenLatencyMs = asFloat(v) }},
	{"initiator", func(r *Row, v any) { r.Initiator = asString(v) }},
	{"api_endpoint", func(r *Row, v any) { r.APIEndpoint = asString(v) }},
	{"reasoning_effort", func(r *Row, v any) { r.ReasoningEffort = asString(v) }},
	{"finish_reason", func(r *Row, v any) { r.FinishReason = asString(v) }},
	{"content_filter_triggered", func(r *Row, v any) { r.ContentFilterTriggered = asInt(v) != 0 }},
	{"token_details_json", func(r *Row, v any) { r.TokenDetailsJSON = asString(v) }},
	{"created_at", func(r *Row, v any) { r.CreatedAt = asTime(v) }},
}

// Rows returns up to limit calls (every one when limit <= 0) with a rowid
// above afterRowID, in rowid order, of all sessions. The rows are read in
// one statement and released before it returns.
func (s *Store) Rows(ctx context.Context, afterRowID int64, limit int) ([]Row, error) {
	var out []Row
	err := s.retry(ctx, func() error {
		out = out[:0]
		cols := s.columnSet()
		var present []int
		sel := []string{"rowid"}
		for i, c := range rowColumns {
			if cols[c.name] {
				present = append(present, i)
				sel = append(sel, quoteIdent(c.name))
			}
		}
		q := "SELECT " + strings.Join(sel, ", ") + " FROM " + UsageTable + " WHERE rowid > ? ORDER BY rowid"
		args := []any{afterRowID}
		if limit > 0 {
			q += " LIMIT ?"
			args = append(args, limit)
		}
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			r := Row{RowID: asInt(vals[0])}
			for k, i := range present {
				rowColumns[i].set(&r, vals[k+1])
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// HighestRowID is the highest rowid the usage table has had: its
// AUTOINCREMENT counter (sqlite_sequence), which deleting rows does not
// lower, or the highest rowid it has now, whichever is higher; 0 for an
// empty new table. A store whose highest rowid is below the last one a
// reader read is not the store it read: it was removed and made again
// (its rowids start at 1 again).
func (s *Store) HighestRowID(ctx context.Context) (int64, error) {
	var n int64
	err := s.retry(ctx, func() error {
		var top sql.NullInt64
		if err := s.db.QueryRowContext(ctx, "SELECT max(rowid) FROM "+UsageTable).Scan(&top); err != nil {
			return err
		}
		var seq sql.NullInt64
		err := s.db.QueryRowContext(ctx, "SELECT max(seq) FROM sqlite_sequence WHERE name = ?", UsageTable).Scan(&seq)
		if err != nil && !isNoSuchTable(err) { // no AUTOINCREMENT table: no sqlite_sequence
			return err
		}
		n = max(top.Int64, seq.Int64)
		return nil
	})
	return n, err
}

// Usage is a session's cumulative usage as the store has it.
type Usage struct {
	// Summary is in the transcript accounting's shape (tokens by type,
	// per model requests, user-initiated requests, nano-AIU, premium
	// requests, API time), comparable field by field with
	// session.Tracker.Summary. The store has no code changes: they are
	// zero.
	Summary session.UsageSummary
	// Calls is the number of model calls (rows).
	Calls int64
	// LastRowID is the highest rowid of the session's rows.
	LastRowID int64
}

// sums are the aggregates SessionUsage reads per model; a column the
// store lacks sums to 0.
var sums = []struct{ col, expr string }{
	{"input_tokens", "sum(input_tokens)"},
	{"output_tokens", "sum(output_tokens)"},
	{"cache_read_tokens", "sum(cache_read_tokens)"},
	{"cache_write_tokens", "sum(cache_write_tokens)"},
	{"reasoning_tokens", "sum(reasoning_tokens)"},
	{"total_nano_aiu", "sum(total_nano_aiu)"},
	{"duration_ms", "sum(duration_ms)"},
	{"initiator", "sum(initiator = '" + session.InitiatorUser + "')"},
	// Premium requests: the model's multiplier, on the calls a user's
	// prompt started (as the transcript's usage records carry cost).
	{"request_multiplier", "sum(CASE WHEN initiator = '" + session.InitiatorUser + "' THEN request_multiplier ELSE 0 END)"},
}

// SessionUsage returns the session's usage summed over its rows (a
// subagent's rows included). ok is false when the store has no row of the
// session.
func (s *Store) SessionUsage(ctx context.Context, sessionID string) (Usage, bool, error) {
	var u Usage
	err := s.retry(ctx, func() error {
		u = Usage{Summary: session.UsageSummary{ModelMetrics: map[string]session.ModelSummary{}}}
		cols := s.columnSet()
		model := "''"
		if cols["model"] {
			model = "coalesce(model, '')"
		}
		sel := []string{model, "count(*)", "max(rowid)"}
		for _, c := range sums {
			e := c.expr
			if !cols[c.col] || (c.col == "request_multiplier" && !cols["initiator"]) {
				e = "0"
			}
			sel = append(sel, e)
		}
		q := "SELECT " + strings.Join(sel, ", ") + " FROM " + UsageTable + " WHERE session_id = ? GROUP BY 1"
		rows, err := s.db.QueryContext(ctx, q, sessionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			name, calls := asString(vals[0]), asInt(vals[1])
			u.Calls += calls
			u.LastRowID = max(u.LastRowID, asInt(vals[2]))
			v := vals[3:]
			m := session.ModelSummary{
				Requests: session.RequestSummary{Count: calls, UserInitiated: asInt(v[7]), PremiumCost: asFloat(v[8])},
				Usage: session.TokenSummary{
					InputTokens: asInt(v[0]), OutputTokens: asInt(v[1]),
					CacheReadTokens: asInt(v[2]), CacheWriteTokens: asInt(v[3]), ReasoningTokens: asInt(v[4]),
				},
				TotalNanoAIU: asInt(v[5]),
			}
			u.Summary.ModelMetrics[name] = m
			u.Summary.TotalAPIDurationMs += asInt(v[6])
		}
		u.Summary.Retotal()
		return rows.Err()
	})
	return u, err == nil && u.Calls > 0, err
}

// retry runs a query; when the CLI changed the table's columns since they
// were read (it migrated the store), it reads them again and retries once.
// Errors are classified (see wrap).
func (s *Store) retry(ctx context.Context, q func() error) error {
	err := q()
	if isNoSuchColumn(err) {
		cols, cerr := s.columns(ctx)
		if cerr != nil {
			return cerr
		}
		if !cols["session_id"] {
			return fmt.Errorf("%w (%s)", ErrNoUsageTable, s.path)
		}
		s.cols.Store(&cols)
		err = q()
	}
	if isNoSuchTable(err) {
		return fmt.Errorf("%w (%s)", ErrNoUsageTable, s.path)
	}
	return s.wrap(err)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// asInt reads an integer column that may hold a REAL (the CLI stores some
// latencies with fractions in INTEGER columns), text, or NULL.
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		return int64(math.Round(x))
	case bool:
		if x {
			return 1
		}
	case []byte:
		return asInt(string(x))
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return asInt(f)
		}
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case []byte:
		return asFloat(string(x))
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f
		}
	}
	return 0
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

func asTime(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	s := asString(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// SessionInfo is a session's row in the store's sessions table: where it
// runs. A column the store lacks reads as the zero value.
type SessionInfo struct {
	ID         string
	Cwd        string
	Repository string // owner/name, when the repository has a GitHub remote
	HostType   string
	Branch     string
	Summary    string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

var sessionColumns = []struct {
	name string
	set  func(s *SessionInfo, v any)
}{
	{"cwd", func(s *SessionInfo, v any) { s.Cwd = asString(v) }},
	{"repository", func(s *SessionInfo, v any) { s.Repository = asString(v) }},
	{"host_type", func(s *SessionInfo, v any) { s.HostType = asString(v) }},
	{"branch", func(s *SessionInfo, v any) { s.Branch = asString(v) }},
	{"summary", func(s *SessionInfo, v any) { s.Summary = asString(v) }},
	{"created_at", func(s *SessionInfo, v any) { s.CreatedAt = asTime(v) }},
	{"updated_at", func(s *SessionInfo, v any) { s.UpdatedAt = asTime(v) }},
}

// Session returns the session's row of the sessions table; ok is false
// when there is none, or no such table (an older store).
func (s *Store) Session(ctx context.Context, sessionID string) (SessionInfo, bool, error) {
	info := SessionInfo{ID: sessionID}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM pragma_table_info('sessions')`)
	if err != nil {
		return info, false, s.wrap(err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return info, false, s.wrap(err)
		}
		have[strings.ToLower(name)] = true
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return info, false, s.wrap(err)
	}
	if !have["id"] {
		return info, false, nil
	}
	var present []int
	sel := []string{"id"}
	for i, c := range sessionColumns {
		if have[c.name] {
			present = append(present, i)
			sel = append(sel, quoteIdent(c.name))
		}
	}
	vals := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = s.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM sessions WHERE id = ?", sessionID).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return info, false, nil
	}
	if err != nil {
		return info, false, s.wrap(err)
	}
	for k, i := range present {
		sessionColumns[i].set(&info, vals[k+1])
	}
	return info, true, nil
}

// Ahead reports whether the store's usage of a session is further ahead
// than the transcript's: it counts more model calls, and holds everything
// the transcript counts (per model, at least its calls, tokens of each
// type and nano-AIU). On a tie the transcript is taken, which also has the
// code changes. A store that counts more calls but less of something the
// transcript has is missing calls the transcript has: those of a session's
// first leg run by a CLI that kept no usage in the store (before 1.0.80)
// and resumed by one that does; answering from it would take usage back.
// The forwarder (Options A and B) and the receiver's usage query (Option
// C) choose with it.
func (u Usage) Ahead(transcript session.UsageSummary) bool {
	if u.Calls <= transcript.Calls() {
		return false
	}
	for name, t := range transcript.ModelMetrics {
		s := u.Summary.ModelMetrics[name]
		if s.Requests.Count < t.Requests.Count || s.TotalNanoAIU < t.TotalNanoAIU ||
			s.Usage.InputTokens < t.Usage.InputTokens || s.Usage.OutputTokens < t.Usage.OutputTokens ||
			s.Usage.CacheReadTokens < t.Usage.CacheReadTokens || s.Usage.CacheWriteTokens < t.Usage.CacheWriteTokens ||
			s.Usage.ReasoningTokens < t.Usage.ReasoningTokens {
			return false
		}
	}
	return true
}
