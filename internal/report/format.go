package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Formats are the output formats.
var Formats = []string{"table", "csv", "json", "markdown", "html"}

// Write writes the report in a format.
func Write(w io.Writer, rep *Report, format string) error {
	switch format {
	case "table", "":
		return writeTable(w, rep)
	case "csv":
		return writeCSV(w, rep)
	case "json":
		return writeJSON(w, rep)
	case "markdown", "md":
		return writeMarkdown(w, rep)
	case "html":
		return writeHTML(w, rep)
	}
	return fmt.Errorf("format %q is not one of %s", format, strings.Join(Formats, ", "))
}

// column is one column of the tabular formats.
type column struct {
	key     string // CSV header
	head    string
	human   func(*Totals) string // table and Markdown
	machine func(*Totals) string // CSV
}

func columns(currency string) []column {
	i := func(f func(*Totals) int64) func(*Totals) string {
		return func(t *Totals) string { return strconv.FormatInt(f(t), 10) }
	}
	return []column{
		{"sessions", "sessions", func(t *Totals) string { return strconv.Itoa(t.Sessions) }, nil},
		{"users", "users", func(t *Totals) string { return strconv.Itoa(t.Users) }, nil},
		{"requests", "requests", i(func(t *Totals) int64 { return t.Requests }), nil},
		{"premium_requests", "premium requests", func(t *Totals) string { return formatFloat(t.PremiumRequests) }, nil},
		{"ai_credits", "AI credits", func(t *Totals) string { return t.AICredits() }, nil},
		{"cost", strings.TrimSpace("cost " + currency), func(t *Totals) string { return t.Cost.String() }, nil},
		{"input_tokens", "input tokens", i(func(t *Totals) int64 { return t.InputTokens }), nil},
		{"output_tokens", "output tokens", i(func(t *Totals) int64 { return t.OutputTokens }), nil},
		{"cache_read_tokens", "cache read tokens", i(func(t *Totals) int64 { return t.CacheReadTokens }), nil},
		{"cache_write_tokens", "cache write tokens", i(func(t *Totals) int64 { return t.CacheWriteTokens }), nil},
		{"reasoning_tokens", "reasoning tokens", i(func(t *Totals) int64 { return t.ReasoningTokens }), nil},
		{"api_duration_ms", "API time", func(t *Totals) string { return formatDuration(t.APIDurationMs) }, i(func(t *Totals) int64 { return t.APIDurationMs })},
		{"share", "share", func(t *Totals) string { return strconv.FormatFloat(t.Share*100, 'f', 1, 64) + "%" }, func(t *Totals) string { return strconv.FormatFloat(t.Share, 'f', 6, 64) }},
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatDuration is API time as people read it: 850ms, 12.3s, 4m05s, 2h03m.
func formatDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return strconv.FormatInt(ms, 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// grid is the report as lines of cells: a header, the rows, and the
// total and unattributed lines (footer).
func grid(rep *Report, human bool) (head []string, body, foot [][]string) {
	cols := columns(rep.Currency)
	by := rep.By
	if len(by) == 0 {
		by = []string{""}
	}
	head = append(head, by...)
	for _, c := range cols {
		if human {
			head = append(head, c.head)
		} else {
			head = append(head, c.key)
		}
	}
	if !human {
		head = append(head, "currency")
	}
	line := func(vals []string, t *Totals) []string {
		out := append([]string(nil), vals...)
		for _, c := range cols {
			f := c.human
			if !human && c.machine != nil {
				f = c.machine
			}
			out = append(out, f(t))
		}
		if !human {
			out = append(out, rep.Currency)
		}
		return out
	}
	for i := range rep.Rows {
		if len(rep.By) == 0 {
			break // one group: the total says it
		}
		vals := slices.Clone(rep.Rows[i].Values)
		for j := range vals {
			if human && vals[j] == "" {
				vals[j] = "(none)"
			}
		}
		body = append(body, line(vals, &rep.Rows[i].Totals))
	}
	label := func(s string) []string {
		v := make([]string, len(by))
		v[0] = s
		return v
	}
	foot = append(foot, line(label("total"), &rep.Total))
	if !hasAttribution(rep.By) {
		foot = append(foot, line(label(rep.UnattributedValue+" (no ticket, no team)"), &rep.Unattributed))
	}
	return head, body, foot
}

func hasAttribution(by []string) bool {
	for _, k := range by {
		for _, a := range attributionKeys {
			if k == a {
				return true
			}
		}
	}
	return false
}

// recordsNote is the number of records counted, and of those that name no
// session when there are any.
func recordsNote(rep *Report) string {
	s := fmt.Sprintf("%d records", rep.Records)
	if rep.NoSession > 0 {
		s += fmt.Sprintf(", %d without a session (in no session count)", rep.NoSession)
	}
	return s
}

// title says what the report covers.
func title(rep *Report) string {
	s := "Copilot spend"
	if len(rep.By) > 0 {
		s += " by " + strings.Join(rep.By, ", ")
	}
	switch {
	case !rep.Since.IsZero() && !rep.Until.IsZero():
		s += ", " + rep.Since.Format(time.RFC3339) + " to " + rep.Until.Format(time.RFC3339)
	case !rep.Since.IsZero():
		s += ", since " + rep.Since.Format(time.RFC3339)
	case !rep.Until.IsZero():
		s += ", until " + rep.Until.Format(time.RFC3339)
	}
	return s
}

func writeTable(w io.Writer, rep *Report) error {
	head, body, foot := grid(rep, true)
	nKeys := max(len(rep.By), 1)
	width := make([]int, len(head))
	for _, l := range append(append([][]string{head}, body...), foot...) {
		for i, c := range l {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n\n", title(rep), recordsNote(rep))
	put := func(l []string) {
		for i, c := range l {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < nKeys {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		b.WriteString("\n")
	}
	rule := func() {
		for i, n := range width {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(strings.Repeat("-", n))
		}
		b.WriteString("\n")
	}
	put(head)
	rule()
	for _, l := range body {
		put(l)
	}
	rule()
	for _, l := range foot {
		put(l)
	}
	_, err := io.WriteString(w, trimRight(b.String()))
	return err
}

// trimRight removes the padding at the ends of lines.
func trimRight(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func writeCSV(w io.Writer, rep *Report) error {
	head, body, foot := grid(rep, false)
	cw := csv.NewWriter(w)
	if len(rep.By) == 0 {
		head[0] = "group"
	}
	_ = cw.Write(head)
	for _, l := range append(body, foot...) {
		_ = cw.Write(l)
	}
	cw.Flush()
	return cw.Error()
}

func writeMarkdown(w io.Writer, rep *Report) error {
	head, body, foot := grid(rep, true)
	nKeys := max(len(rep.By), 1)
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title(rep))
	put := func(l []string, bold bool) {
		b.WriteString("|")
		for _, c := range l {
			c = esc(c)
			if bold && c != "" {
				c = "**" + c + "**"
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	put(head, false)
	b.WriteString("|")
	for i := range head {
		if i < nKeys {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, l := range body {
		put(l, false)
	}
	for _, l := range foot {
		put(l, true)
	}
	fmt.Fprintf(&b, "\n%s; cost in %s, AI credits of 1e9 nano-AIU.\n", recordsNote(rep), rep.Currency)
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonTotals is a group's totals in JSON: exact decimals as strings.
type jsonTotals struct {
	Sessions         int     `json:"sessions"`
	Users            int     `json:"users"`
	Requests         int64   `json:"requests"`
	PremiumRequests  float64 `json:"premium_requests"`
	NanoAIU          int64   `json:"nano_aiu"`
	AICredits        string  `json:"ai_credits"`
	Cost             string  `json:"cost"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	APIDurationMs    int64   `json:"api_duration_ms"`
	Share            float64 `json:"share"`
}

func toJSON(t *Totals) jsonTotals {
	return jsonTotals{
		Sessions: t.Sessions, Users: t.Users, Requests: t.Requests, PremiumRequests: t.PremiumRequests,
		NanoAIU: t.NanoAIU, AICredits: t.AICredits(), Cost: t.Cost.String(),
		InputTokens: t.InputTokens, OutputTokens: t.OutputTokens, CacheReadTokens: t.CacheReadTokens,
		CacheWriteTokens: t.CacheWriteTokens, ReasoningTokens: t.ReasoningTokens,
		APIDurationMs: t.APIDurationMs, Share: t.Share,
	}
}

func writeJSON(w io.Writer, rep *Report) error {
	type row struct {
		Group map[string]string `json:"group"`
		jsonTotals
	}
	out := struct {
		By           []string    `json:"by"`
		Since        *time.Time  `json:"since,omitempty"`
		Until        *time.Time  `json:"until,omitempty"`
		Currency     string      `json:"currency"`
		Records      int         `json:"records"`
		NoSession    int         `json:"records_without_session,omitempty"`
		Rows         []row       `json:"rows"`
		Total        jsonTotals  `json:"total"`
		Unattributed *jsonTotals `json:"unattributed,omitempty"`
	}{By: rep.By, Currency: rep.Currency, Records: rep.Records, NoSession: rep.NoSession, Rows: []row{}, Total: toJSON(&rep.Total)}
	if out.By == nil {
		out.By = []string{}
	}
	if !rep.Since.IsZero() {
		out.Since = &rep.Since
	}
	if !rep.Until.IsZero() {
		out.Until = &rep.Until
	}
	for i := range rep.Rows {
		g := map[string]string{}
		for j, k := range rep.By {
			g[k] = rep.Rows[i].Values[j]
		}
		out.Rows = append(out.Rows, row{g, toJSON(&rep.Rows[i].Totals)})
	}
	if !hasAttribution(rep.By) {
		u := toJSON(&rep.Unattributed)
		out.Unattributed = &u
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
