package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

const cliData = "../../testdata/copilot-cli"

// realGlobs are real transcripts: of CLI 1.0.102 the billed copies and
// the sessions in several repositories and branches, and those recorded
// with CLI 1.0.20 to 1.0.102 (killed, resumed by another version,
// subagents, ...).
var realGlobs = []string{
	cliData + "/1.0.102-billed/session-state/*/events.jsonl",
	cliData + "/1.0.102-repos/session-state/*/events.jsonl",
	cliData + "/recorded/*/session-state/*/events.jsonl",
}

// chargebackGlobs are the transcripts the chargeback processor's README
// prices.
var chargebackGlobs = realGlobs[:2]

func transcripts(t testing.TB, cfg chargeback.Config, globs []string) *Transcripts {
	t.Helper()
	res, err := attribution.New(cfg.Attribution, nil)
	require.NoError(t, err)
	pr, err := pricing.New(cfg.Pricing)
	require.NoError(t, err)
	return &Transcripts{Globs: globs, User: "dev", Resolver: res, Pricer: pr}
}

func loadTestConfig(t testing.TB, name string) chargeback.Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join("testdata", "collector.yaml"), name)
	require.NoError(t, err)
	return cfg
}

func run(t *testing.T, src Source, q Query) *Report {
	t.Helper()
	rep, err := Run(context.Background(), src, q, "USD")
	require.NoError(t, err)
	return rep
}

func rowOf(rep *Report, vals ...string) *Row {
	for i := range rep.Rows {
		if strings.Join(rep.Rows[i].Values, "\x00") == strings.Join(vals, "\x00") {
			return &rep.Rows[i]
		}
	}
	return nil
}

// TestGolden writes every format of reports over the real transcripts,
// attributed by the mapping file and priced with token prices for the
// bring-your-own-key models, and compares them with the reviewed files
// under testdata/golden. Refresh with -update and review the diff.
func TestGolden(t *testing.T) {
	src := transcripts(t, loadTestConfig(t, ""), realGlobs)
	cases := []struct {
		name, format string
		q            Query
	}{
		{"ticket-model.txt", "table", Query{By: []string{KeyTicket, KeyModel}}},
		{"team-project.txt", "table", Query{By: []string{KeyTeam, KeyProject, KeyCostCenter}}},
		{"repository-branch.txt", "table", Query{By: []string{KeyRepository, KeyBranch}}},
		{"day-agent.txt", "table", Query{By: []string{KeyWeek, KeyDay, KeyAgent}}},
		{"ticket-model.csv", "csv", Query{By: []string{KeyTicket, KeyModel}}},
		{"ticket-model.json", "json", Query{By: []string{KeyTicket, KeyModel}}},
		{"ticket-model.md", "markdown", Query{By: []string{KeyTicket, KeyModel}}},
		{"ticket.html", "html", Query{By: []string{KeyTicket}}},
		{"total.csv", "csv", Query{}},
		{"sprint-PAY-4411-by-session.md", "markdown", Query{
			By: []string{KeySession, KeyUser}, Filters: []Filter{{KeyTicket, []string{"PAY-*"}}},
			Since: time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Unattributed = "unattributed"
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, run(t, src, c.q), c.format))
			file := filepath.Join("testdata", "golden", c.name)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
				require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestChargebackProcessorCost: on the transcripts its README prices, the
// report's cost is the chargeback processor's, in total and by ticket,
// with the rules in the mapping file and with them inline.
func TestChargebackProcessorCost(t *testing.T) {
	for _, name := range []string{"", "inline"} {
		t.Run("chargeback/"+name, func(t *testing.T) {
			rep := run(t, transcripts(t, loadTestConfig(t, name), chargebackGlobs), Query{By: []string{KeyTicket}, Unattributed: "unattributed"})
			assert.Equal(t, "0.288073675", rep.Total.Cost.String())
			require.Len(t, rep.Rows, 2)
			assert.Equal(t, "0.204763575", rowOf(rep, "PAY-4411").Cost.String())
			assert.Equal(t, "0.0833101", rowOf(rep, "unattributed").Cost.String())
			assert.Equal(t, 29, rep.Records)
			assert.Zero(t, rep.Duplicates)
		})
	}
}

// TestTotalsAreTheCLIs: per model and per ticket, the report counts what
// the CLI's own final accounting of each session says (read by
// cliaccounting, independently of package session).
func TestTotalsAreTheCLIs(t *testing.T) {
	var files []string
	for _, g := range realGlobs {
		m, err := filepath.Glob(g)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 10)
	branchTicket := regexp.MustCompile(attribution.DefaultTicketPattern)
	byModel := map[string]cliaccounting.ModelTotals{}
	byTicket := map[string]cliaccounting.ModelTotals{}
	sessions := map[string]bool{} // with usage: a session that used no model has no record
	for _, f := range files {
		a, err := cliaccounting.File(f, perLeg(t, f))
		require.NoError(t, err, f)
		if len(a.Models) > 0 {
			sessions[filepath.Base(filepath.Dir(f))] = true
		}
		ticket := "unattributed"
		if m := branchTicket.FindStringSubmatch(branchOf(t, f)); m != nil {
			ticket = m[1]
		}
		for model, mt := range a.Models {
			b := byModel[model]
			b.Add(mt)
			byModel[model] = b
			b = byTicket[ticket]
			b.Add(mt)
			byTicket[ticket] = b
		}
	}
	src := transcripts(t, chargeback.Default(), realGlobs)
	for key, want := range map[string]map[string]cliaccounting.ModelTotals{KeyModel: byModel, KeyTicket: byTicket} {
		rep := run(t, src, Query{By: []string{key}, Unattributed: "unattributed"})
		var total cliaccounting.ModelTotals
		for v, w := range want {
			total.Add(w)
			r := rowOf(rep, v)
			require.NotNil(t, r, "%s %s", key, v)
			assertTotals(t, w, &r.Totals, key+" "+v)
		}
		assertTotals(t, total, &rep.Total, key+" total")
		assert.Len(t, rep.Rows, len(want), key)
		assert.Equal(t, len(sessions), rep.Total.Sessions)
		assert.Zero(t, rep.Duplicates)
	}
}

func assertTotals(t *testing.T, want cliaccounting.ModelTotals, got *Totals, what string) {
	t.Helper()
	assert.Equal(t, want.Requests, got.Requests, what)
	assert.Equal(t, want.InputTokens, got.InputTokens, what)
	assert.Equal(t, want.OutputTokens, got.OutputTokens, what)
	assert.Equal(t, want.CacheReadTokens, got.CacheReadTokens, what)
	assert.Equal(t, want.CacheWriteTokens, got.CacheWriteTokens, what)
	assert.Equal(t, want.ReasoningTokens, got.ReasoningTokens, what)
	assert.Equal(t, want.NanoAIU, got.NanoAIU, what)
	assert.InDelta(t, want.PremiumCost, got.PremiumRequests, 1e-9, what)
}

// perLeg says which shutdowns of a recorded session were written by a CLI
// that reports its leg only (before 1.0.66), from the recording.json the
// recording program wrote: the versions of the legs not killed, in order.
func perLeg(t *testing.T, transcript string) func(int) bool {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(transcript), "..", "..", "recording.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var rec struct {
		Legs []struct{ Version, Exit string }
	}
	require.NoError(t, json.Unmarshal(b, &rec))
	var versions []string
	for _, l := range rec.Legs {
		if !strings.Contains(l.Exit, "SIGKILL") { // a killed leg writes no shutdown
			versions = append(versions, l.Version)
		}
	}
	return func(i int) bool {
		if i >= len(versions) {
			return false
		}
		// "1.0.66-2" is a pre-release, before 1.0.66.
		var major, minor, patch int
		_, err := fmt.Sscanf(versions[i], "%d.%d.%d", &major, &minor, &patch)
		require.NoError(t, err, versions[i])
		pre := strings.Contains(versions[i], "-")
		return major == 1 && minor == 0 && (patch < 66 || patch == 66 && pre)
	}
}

// branchOf reads the branch of a transcript's session.start, with plain
// encoding/json.
func branchOf(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		var ev struct {
			Type string
			Data struct{ Context struct{ Branch string } }
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "session.start" {
			return ev.Data.Context.Branch
		}
	}
	return ""
}

// records is a Source of given records.
type records []Record

func (rs records) Records(ctx context.Context, yield func(Record) error) error {
	for _, r := range rs {
		if err := yield(r); err != nil {
			return err
		}
	}
	return nil
}

func rec(id, session, ticket, team, model string, end time.Time, nano int64) Record {
	return Record{
		ID: id, SessionID: session, User: "u-" + session, Ticket: ticket, Team: team, Project: "unattributed",
		CostCenter: "unattributed", Model: model, Agent: "main", End: end, Start: end.Add(-time.Second),
		Requests: 1, InputTokens: 100, OutputTokens: 10, NanoAIU: nano, PremiumRequests: 0.33,
		APIDurationMs: 1000, Cost: money.MustParse("0.01").MulInt(nano), Currency: "USD",
	}
}

func TestGroupAndFilter(t *testing.T) {
	d1 := time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)  // Tuesday, ISO week 47
	d2 := time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC) // Monday, week 48
	src := records{
		rec("a", "s1", "PAY-1", "payments", "gpt-5", d1, 1),
		rec("b", "s1", "PAY-1", "payments", "claude", d1, 2),
		rec("c", "s2", "PAY-2", "payments", "gpt-5", d2, 3),
		rec("d", "s3", "unattributed", "unattributed", "gpt-5", d2, 4),
		rec("d", "s3", "unattributed", "unattributed", "gpt-5", d2, 4), // the same record again
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	cases := []struct {
		name string
		q    Query
		rows [][]string // values, by cost
		cost []string
	}{
		{"ticket", Query{By: []string{KeyTicket}}, [][]string{{"unattributed"}, {"PAY-1"}, {"PAY-2"}}, []string{"0.04", "0.03", "0.03"}},
		{"team: unattributed shown though empty", Query{By: []string{KeyTeam}, Filters: []Filter{{KeyTeam, []string{"payments"}}}}, [][]string{{"payments"}, {"unattributed"}}, []string{"0.06", "0"}},
		{"model,week", Query{By: []string{KeyModel, KeyWeek}}, [][]string{{"gpt-5", "2026-W48"}, {"claude", "2026-W47"}, {"gpt-5", "2026-W47"}}, []string{"0.07", "0.02", "0.01"}},
		{"day in Berlin", Query{By: []string{KeyDay}, Location: berlin}, [][]string{{"2026-11-24"}, {"2026-11-17"}}, []string{"0.07", "0.03"}},
		{"filter glob and model", Query{By: []string{KeySession}, Filters: []Filter{{KeyTicket, []string{"PAY-*"}}, {KeyModel, []string{"gpt-*"}}}}, [][]string{{"s2"}, {"s1"}}, []string{"0.03", "0.01"}},
		{"filter values", Query{By: []string{KeyUser}, Filters: []Filter{{KeySession, []string{"s1", "s3"}}}}, [][]string{{"u-s3"}, {"u-s1"}}, []string{"0.04", "0.03"}},
		{"since", Query{By: []string{KeyTicket}, Since: d2}, [][]string{{"unattributed"}, {"PAY-2"}}, []string{"0.04", "0.03"}},
		{"until excludes its instant", Query{By: []string{KeyTicket}, Until: d2}, [][]string{{"PAY-1"}, {"unattributed"}}, []string{"0.03", "0"}},
		{"one total", Query{}, [][]string{{}}, []string{"0.1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Unattributed = "unattributed"
			rep := run(t, src, c.q)
			var rows [][]string
			var cost []string
			for _, r := range rep.Rows {
				rows = append(rows, r.Values)
				cost = append(cost, r.Cost.String())
			}
			assert.Equal(t, c.rows, rows)
			assert.Equal(t, c.cost, cost)
		})
	}
	rep := run(t, src, Query{By: []string{KeyModel}, Unattributed: "unattributed"})
	assert.Equal(t, 4, rep.Records)
	assert.Equal(t, 1, rep.Duplicates)
	assert.Equal(t, 3, rep.Total.Sessions)
	assert.Equal(t, "0.1", rep.Total.Cost.String())
	assert.Equal(t, "0.00000001", rep.Total.AICredits())
	assert.Equal(t, "0.04", rep.Unattributed.Cost.String())
	assert.InDelta(t, 0.4, rep.Unattributed.Share, 1e-12)
	assert.Equal(t, 1.32, rep.Total.PremiumRequests) // 4 × 0.33, summed as decimals
	assert.Equal(t, 1.0, rep.Total.Share)
}

func TestParse(t *testing.T) {
	keys, err := ParseKeys("ticket, cost-center,model,ticket")
	require.NoError(t, err)
	assert.Equal(t, []string{KeyTicket, KeyCostCenter, KeyModel}, keys)
	_, err = ParseKeys("ticket,colour")
	assert.ErrorContains(t, err, `"colour" is not one of`)

	f, err := ParseFilter("team=payments,docs")
	require.NoError(t, err)
	assert.Equal(t, Filter{KeyTeam, []string{"payments", "docs"}}, f)
	for _, bad := range []string{"team", "colour=red", "ticket=[", "ticket,team=x"} {
		_, err := ParseFilter(bad)
		assert.Error(t, err, bad)
	}

	since, until, err := ParseSprint("2026-11-17..2026-11-30", time.UTC)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC), since)
	assert.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), until)
	for _, bad := range []string{"2026-11-17", "2026-11-30..2026-11-17", "x..y"} {
		_, _, err := ParseSprint(bad, time.UTC)
		assert.Error(t, err, bad)
	}
	tm, err := ParseTime("2026-11-17T10:00:00+01:00", time.UTC)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC), tm.UTC())
	_, err = ParseTime("yesterday", time.UTC)
	assert.Error(t, err)
}

func TestLoadConfig(t *testing.T) {
	cfg := loadTestConfig(t, "")
	assert.Equal(t, "testdata/teams.csv", cfg.Attribution.MappingFile)
	assert.Equal(t, "unattributed", cfg.Attribution.Unattributed) // the default, kept
	assert.Equal(t, "3.75", cfg.Pricing.TokenPrices["claude-sonnet-4"].CacheWrite)
	assert.Equal(t, "0.01", cfg.Pricing.PerCredit)

	block, err := LoadConfig(filepath.Join("testdata", "chargeback-block.yaml"), "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"main": "OPS-1"}, block.Attribution.Ticket.Mapping)
	assert.Equal(t, pricing.BillingPremiumRequests, block.Pricing.Billing)

	dir := t.TempDir()
	for name, c := range map[string]struct{ yaml, proc, err string }{
		"missing processor": {"processors: {batch: {}}", "", "no processors::chargeback"},
		"named":             {"processors: {chargeback: {}}", "x", "no processors::chargeback/x"},
		"unknown key":       {"processors:\n  chargeback:\n    attribution: {rulez: []}\n", "", `processors::chargeback::attribution: line 3: unknown key "rulez"`},
		"bad rule":          {"attribution:\n  rules: [{name: b, match: {branch: \"regex:(\"}, set: {team: x}}]\n", "", `attribution: rules::0 ("b"): match::branch`},
		"bad price":         {"pricing: {per_credit: abc}\n", "", "pricing: per_credit"},
		"bad duration":      {"attribution: {reload_interval: soon}\n", "", "attribution::reload_interval: line 1: want a duration"},
		"missing mapping":   {"attribution: {mapping_file: " + filepath.Join(dir, "none.csv") + "}\n", "", "none.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			require.NoError(t, os.WriteFile(p, []byte(c.yaml), 0o644))
			cfg, err := LoadConfig(p, c.proc)
			if err == nil { // the mapping file is read by attribution.New, as in the processor's start
				_, err = attribution.New(cfg.Attribution, nil)
			}
			assert.ErrorContains(t, err, c.err)
		})
	}
}

func TestLoadConfigEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`processors:
  chargeback:
    attribution:
      mapping_file: ${env:MAPPING:-testdata/teams.csv}
      unattributed: ${env:NOBODY:-none}
      rules: [{name: "r$$1", set: {team: "${TEAM}"}}]
    pricing: {per_credit: "${env:CREDIT}"}
`), 0o644))
	env := map[string]string{"TEAM": "payments", "CREDIT": "0.012"}
	cfg, err := loadConfig(p, "", func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "testdata/teams.csv", cfg.Attribution.MappingFile)
	assert.Equal(t, "none", cfg.Attribution.Unattributed)
	assert.Equal(t, "r$1", cfg.Attribution.Rules[0].Name)
	assert.Equal(t, "payments", cfg.Attribution.Rules[0].Set.Team)
	assert.Equal(t, "0.012", cfg.Pricing.PerCredit)

	require.NoError(t, os.WriteFile(p, []byte("pricing: {per_credit: \"${file:/etc/credit}\"}\n"), 0o644))
	_, err = loadConfig(p, "", os.Getenv)
	assert.ErrorContains(t, err, "only environment references")

	// The repository's example configuration, as shipped.
	cfg, err = loadConfig("../../examples/chargeback.yaml", "", func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "examples/chargeback-teams.csv", cfg.Attribution.MappingFile)
}

// TestHTMLSelfContained: the page names no URL (it opens offline: no
// script, stylesheet, font or image from anywhere) and parses as HTML.
func TestHTMLSelfContained(t *testing.T) {
	src := transcripts(t, loadTestConfig(t, ""), realGlobs)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, run(t, src, Query{By: []string{KeyTicket, KeyModel}, Unattributed: "unattributed"}), "html"))
	page := buf.String()
	assert.NotRegexp(t, `(?i)(https?:)?//[a-z0-9]`, page)
	assert.NotContains(t, page, "<script")
	assert.NotContains(t, page, "<link")
	assert.Equal(t, 3, strings.Count(page, "<svg "))
	parseHTML(t, page)
}

// parseHTML parses a page, checks that its elements are balanced, and
// returns the names of its elements and its text (character data and
// attribute values, unescaped).
func parseHTML(t *testing.T, page string) (elements []string, text string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var open []string
	var b strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch e := tok.(type) {
		case xml.StartElement:
			open = append(open, e.Name.Local)
			elements = append(elements, e.Name.Local)
			for _, a := range e.Attr {
				b.WriteString(a.Value + "\n")
			}
		case xml.EndElement:
			require.NotEmpty(t, open)
			require.Equal(t, open[len(open)-1], e.Name.Local, "unbalanced </%s>", e.Name.Local)
			open = open[:len(open)-1]
		case xml.CharData:
			b.Write(e)
		}
	}
	assert.Empty(t, open, "elements left open")
	return elements, b.String()
}

func TestProgressPrinter(t *testing.T) {
	now := time.Unix(0, 0)
	var buf bytes.Buffer
	p, done := ProgressPrinter(&buf, func() time.Time { return now })
	now = now.Add(2 * time.Second)
	p(Progress{Files: 4, FilesDone: 1, Bytes: 40e6, BytesDone: 10e6})
	now = now.Add(10 * time.Millisecond)
	p(Progress{Files: 4, FilesDone: 2, Bytes: 40e6, BytesDone: 20e6}) // too soon: not drawn
	now = now.Add(2 * time.Second)
	p(Progress{Files: 4, FilesDone: 4, Bytes: 40e6, BytesDone: 40e6})
	done()
	assert.Equal(t, "\r\x1b[Kreading transcripts: 1/4 files, 10.0/40.0 MB, 5.0 MB/s, 6s left"+
		"\r\x1b[Kreading transcripts: 4/4 files, 40.0/40.0 MB, 10.0 MB/s, 0s left\r\x1b[K", buf.String())
}

func TestRecordIDsStable(t *testing.T) {
	read := func() []string {
		var ids []string
		src := transcripts(t, chargeback.Default(), realGlobs)
		require.NoError(t, src.Records(context.Background(), func(r Record) error {
			ids = append(ids, r.ID)
			return nil
		}))
		return ids
	}
	a, b := read(), read()
	assert.Equal(t, a, b)
	seen := map[string]bool{}
	for _, id := range a {
		assert.False(t, seen[id], id)
		seen[id] = true
	}
	// A yield error stops the read and is returned.
	stop := errors.New("stop")
	n := 0
	err := transcripts(t, chargeback.Default(), realGlobs).Records(context.Background(), func(Record) error {
		n++
		return stop
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
}

// TestDateBoundsWhereMidnightIsSkipped: in America/Havana clocks go from
// 23:59:59 on 2026-03-07 to 01:00 on 2026-03-08, so 2026-03-08 begins at
// 05:00 UTC; time.Date reads the missing midnight as 23:00 of the 7th. A
// record of 23:30 on the 7th is of the day 2026-03-07 (--by day) and of the
// sprint that ends with the 7th, and --since 2026-03-08 must leave it out:
// each day of a range whole, as a day of the budgets is.
func TestDateBoundsWhereMidnightIsSkipped(t *testing.T) {
	havana, err := time.LoadLocation("America/Havana")
	require.NoError(t, err)
	late := time.Date(2026, 3, 8, 4, 30, 0, 0, time.UTC) // 23:30 CST on the 7th
	src := records{rec("a", "s1", "PAY-1", "payments", "gpt-5", late, 1)}
	require.Equal(t, "2026-03-07", Value(&src[0], KeyDay, havana))

	begins := time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC) // 01:00 CDT, the first instant of the 8th
	since, err := ParseTime("2026-03-08", havana)
	require.NoError(t, err)
	assert.True(t, begins.Equal(since), "--since 2026-03-08 is %v", since)
	s, u, err := ParseSprint("2026-03-08..2026-03-14", havana)
	require.NoError(t, err)
	assert.True(t, begins.Equal(s), "sprint since %v", s)
	s, u, err = ParseSprint("2026-03-01..2026-03-07", havana)
	require.NoError(t, err)
	assert.True(t, begins.Equal(u), "sprint until %v", u)

	rep := run(t, src, Query{By: []string{KeyDay}, Location: havana, Since: s, Until: u})
	assert.Equal(t, 1, rep.Records, "the sprint of the 1st to the 7th holds a record of the 7th")
	rep = run(t, src, Query{By: []string{KeyDay}, Location: havana, Since: since})
	assert.Zero(t, rep.Records, "--since 2026-03-08 holds a record of the 7th")

	// Where midnight comes twice (Havana, 2026-11-01: 01:00 CDT back to
	// 00:00 CST), the day begins at the first.
	first := time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)
	since, err = ParseTime("2026-11-01", havana)
	require.NoError(t, err)
	assert.True(t, first.Equal(since), "--since 2026-11-01 is %v", since)
}
