package copilotreceiver

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// TestUsageQueryForPeopleAndTools: the session list and a session's usage
// carry who pays (ticket, team, project) and the cost in the configured
// currency, priced and attributed as the chargeback processor does (the
// figures are the processor's own over the same transcripts: US$0.288073675,
// payments 0.1021195, docs 0.0350841, PAY-4411 0.204763575); the list
// filters by time, ticket, team and user, and pages through every session.
func TestUsageQueryForPeopleAndTools(t *testing.T) {
	h := newHarness(t)
	var ids []string
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, dir := range []string{"1.0.102-billed", "1.0.102-repos"} {
		files, err := filepath.Glob(filepath.Join("../../testdata/copilot-cli", dir, "session-state", "*", "events.jsonl"))
		require.NoError(t, err)
		for _, f := range files {
			id := filepath.Base(filepath.Dir(f))
			p := h.write(id, readTestdata(t, filepath.Join(dir, "session-state", id, "events.jsonl")))
			at = at.Add(time.Minute) // a distinct last write each: the list's order
			require.NoError(t, os.Chtimes(p, at, at))
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 7)
	slices.Reverse(ids) // newest first
	s := &sink{}
	base, stop := h.startHooks(s, func(hc *HooksConfig) {
		hc.Chargeback.Attribution.Rules = []attribution.Rule{
			{Name: "payments", Match: attribution.Match{Repository: "acme/payments-*"}, Set: attribution.Set{Team: "payments", Project: "payments-api"}},
			{Name: "docs", Match: attribution.Match{Repository: "acme/docs-site"}, Set: attribution.Set{Team: "docs", Project: "docs-site"}},
		}
		hc.Chargeback.Pricing.TokenPrices = map[string]pricing.TokenPrices{
			"gpt-4.1":         {Input: "2", Output: "8", CacheRead: "0.5"},
			"claude-sonnet-4": {Input: "3", Output: "15", CacheRead: "0.3", CacheWrite: "3.75"},
		}
	})
	defer stop()
	list := func(query string) sessionList {
		t.Helper()
		var l sessionList
		require.Equal(t, http.StatusOK, get(t, base+sessionsPath+"?"+query, &l), query)
		return l
	}
	sum := func(l sessionList) string {
		var total money.Amount
		for _, e := range l.Sessions {
			a, err := money.ParseDecimal(e.Cost.Amount)
			require.NoError(t, err)
			total = total.Add(a)
			assert.Equal(t, "USD", e.Cost.Currency)
		}
		return total.String()
	}
	var all sessionList
	require.Eventually(t, func() bool {
		all = list("limit=500")
		return len(all.Sessions) == 7 && sum(all) == "0.288073675"
	}, 10*time.Second, 20*time.Millisecond)
	var got []string
	for _, e := range all.Sessions {
		got = append(got, e.SessionID)
		assert.Equal(t, "dev", e.User)
	}
	assert.Equal(t, ids, got, "most recently written first")
	assert.Empty(t, all.NextPageToken)

	payments := list("team=payments")
	assert.Equal(t, "0.1021195", sum(payments))
	for _, e := range payments.Sessions {
		assert.Equal(t, "payments-api", e.Attribution.Project)
	}
	assert.Equal(t, "0.0350841", sum(list("team=docs")))
	assert.Equal(t, "0.204763575", sum(list("ticket=PAY-4411")))
	assert.Len(t, list("team=payments,docs").Sessions, len(payments.Sessions)+len(list("team=docs").Sessions))
	assert.Len(t, list("user=dev").Sessions, 7)
	assert.Empty(t, list("user=someone-else").Sessions)

	// since is inclusive, until exclusive, on the session's last event.
	var times []string
	for _, e := range all.Sessions {
		require.NotEmpty(t, e.LastEvent)
		times = append(times, e.LastEvent)
	}
	slices.Sort(times)
	mid := times[3]
	before, after := list("until="+url.QueryEscape(mid)), list("since="+url.QueryEscape(mid))
	assert.Len(t, after.Sessions, 7-len(before.Sessions))
	assert.NotEmpty(t, before.Sessions)
	for _, e := range after.Sessions {
		assert.GreaterOrEqual(t, e.LastEvent, mid)
	}
	assert.Empty(t, list("since=2030-01-01").Sessions)

	// Pages of two, to the end: every session once, in the list's order.
	var paged []string
	token := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		q := "limit=2"
		if token != "" {
			q += "&page_token=" + token
		}
		p := list(q)
		require.LessOrEqual(t, len(p.Sessions), 2)
		for _, e := range p.Sessions {
			paged = append(paged, e.SessionID)
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	assert.Equal(t, ids, paged)

	// A session's usage carries the same attribution and cost.
	for _, e := range payments.Sessions {
		var u usageAnswer
		require.Equal(t, http.StatusOK, get(t, base+sessionsPath+"/"+e.SessionID+"/usage", &u))
		assert.Equal(t, e.Attribution, u.Attribution)
		assert.Equal(t, e.Cost, u.Cost)
		assert.Equal(t, e.Usage.TotalNanoAIU, u.TotalNanoAIU)
	}

	for _, bad := range []string{"limit=501", "since=yesterday", "until=2026-13-01", "page_token=%21%21", "page_token=dA"} {
		assert.Equal(t, http.StatusBadRequest, get(t, base+sessionsPath+"?"+bad, nil), bad)
	}
}

// TestUsageQueryFromStore: mid-turn, when the CLI's session store has
// calls its transcript does not have yet, the usage query answers from the
// store (source "store"); once the transcript has them, from the
// transcript, with the same figures; a session with no transcript yet is
// answered from the store rather than 404.
func TestUsageQueryFromStore(t *testing.T) {
	h := newHarness(t)
	h.copyStoreCase("1.0.102-resumed")
	const id = "7b01f271-4cdc-4c16-bd60-fb6cd140a487"
	path := filepath.Join(h.root, id, "events.jsonl")
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	// The transcript as the CLI left it after its first leg; the store has
	// the resumed leg's calls too.
	cut := strings.Index(string(whole), `{"type":"session.shutdown"`)
	cut += strings.IndexByte(string(whole[cut:]), '\n') + 1
	require.NoError(t, os.WriteFile(path, whole[:cut], 0o644))

	s := &sink{}
	base, stop := h.startHooks(s, nil)
	defer stop()
	type answer struct {
		session.UsageMetrics
		Source string `json:"source"`
	}
	query := func(id string) (answer, int) {
		var a answer
		code := get(t, base+sessionsPath+"/"+id+"/usage", &a)
		return a, code
	}
	requests := func(a answer) int64 {
		var n int64
		for _, m := range a.ModelMetrics {
			n += m.Requests.Count
		}
		return n
	}
	var mid answer
	require.Eventually(t, func() bool {
		a, code := query(id)
		mid = a
		return code == http.StatusOK && a.Source == "store"
	}, 10*time.Second, 20*time.Millisecond, "the store's calls ahead of the transcript")
	// The first leg made 5 calls; the resumed leg's are in the store only.
	assert.Greater(t, requests(mid), int64(5))

	h.appendTo(path, whole[cut:])
	var final answer
	require.Eventually(t, func() bool {
		a, code := query(id)
		final = a
		return code == http.StatusOK && a.Source == "transcript" && requests(a) == requests(mid)
	}, 10*time.Second, 20*time.Millisecond, "the transcript caught up")
	assert.Equal(t, final.ModelMetrics, mid.ModelMetrics, "the store's figures are the transcript's")
	assert.Equal(t, final.TotalNanoAIU, mid.TotalNanoAIU)

	// A session the CLI has not written a transcript of yet.
	require.NoError(t, os.RemoveAll(filepath.Dir(path)))
	other, code := query(id)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, []string{"store", "transcript"}, other.Source)
	assert.Equal(t, requests(mid), requests(other))
	_, code = query("00000000-0000-4000-8000-000000000000")
	assert.Equal(t, http.StatusNotFound, code)
}

// TestUsageQueryStoreWithoutFirstLeg: a session started by a CLI that kept
// no usage in its store (1.0.66) and resumed by one that does (1.0.102):
// the store has only the resumed leg's calls. When that leg has made more
// calls than the transcript counts so far, the store counts more calls but
// less usage; the answer is the transcript's, never less than it in any
// field, rather than the resumed leg's alone.
func TestUsageQueryStoreWithoutFirstLeg(t *testing.T) {
	h := newHarness(t)
	db, _ := h.copyStoreCase("mixed-1.0.66-to-1.0.102")
	const id = "03b914a0-3146-407c-94f0-c18a3aaf868c"
	path := filepath.Join(h.root, id, "events.jsonl")
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	// The transcript mid-way through the resumed leg: the first leg (5
	// calls, none in the store) and the resume.
	cut := strings.Index(string(whole), `{"type":"session.resume"`)
	cut += strings.IndexByte(string(whole[cut:]), '\n') + 1
	require.NoError(t, os.WriteFile(path, whole[:cut], 0o644))
	// The resumed leg has made 6 calls so far, all in the store.
	for range 4 {
		execStore(t, db, `INSERT INTO assistant_usage_events (session_id, model, input_tokens, output_tokens, cache_read_tokens, initiator, created_at)
			VALUES (?, 'gpt-4.1', 100, 5, 50, 'agent', '2026-12-07T14:06:00.000Z')`, id)
	}
	c := session.NewCursor(path, session.CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	tr := c.Tracker().Summary()
	require.Equal(t, int64(5), tr.Calls())

	base, stop := h.startHooks(&sink{}, nil)
	defer stop()
	var a usageAnswer
	require.Eventually(t, func() bool {
		return get(t, base+sessionsPath+"/"+id+"/usage", &a) == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "transcript", a.Source)
	m := a.ModelMetrics["gpt-4.1"]
	assert.Equal(t, tr.ModelMetrics["gpt-4.1"].Requests.Count, m.Requests.Count)
	assert.Equal(t, tr.ModelMetrics["gpt-4.1"].Usage, m.Usage, "the first leg's usage is not taken back")
}
