package report

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is a value a ledger row can carry in any of its columns: the
// ledger is written from what the agents sent.
const hostile = `X</title></rect></svg><script>alert(1)</script><b a="'>`

// pageElements are the elements the HTML page is made of.
var pageElements = []string{"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "svg", "text", "rect", "line", "table", "thead", "tbody", "tfoot", "tr", "th", "td"}

// TestHTMLEscapesEveryValue: every value a record carries, and the
// currency, reach the page as text: in the charts' labels and tooltips
// (written by hand, not by the template) as in the table. The page has no
// element but its own, and shows each value as it was.
func TestHTMLEscapesEveryValue(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := rec("a", "s-"+hostile, "T-"+hostile, "team-"+hostile, "m-"+hostile, at, 1)
	r.User, r.Repository, r.Branch, r.Agent, r.Project, r.CostCenter = "u-"+hostile, "r-"+hostile, "b-"+hostile, "a-"+hostile, "p-"+hostile, "c-"+hostile
	u := rec("b", "s2", "unattributed", "unattributed", "m2", at, 2)
	for _, by := range [][]string{
		{KeyTicket},
		{KeySession, KeyUser, KeyRepository, KeyBranch, KeyModel, KeyAgent},
		{KeyTeam, KeyProject, KeyCostCenter},
	} {
		rep := run(t, records{r, u}, Query{By: by, Unattributed: "none-" + hostile})
		rep.Currency = "C-" + hostile // as a caller that did not check it would pass it
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, rep, "html"))
		elements, text := parseHTML(t, buf.String())
		for _, e := range elements {
			assert.True(t, slices.Contains(pageElements, e), "by %v: element <%s> in the page", by, e)
		}
		assert.NotContains(t, buf.String(), "<script")
		for _, v := range []string{"T-", "m-", "C-", "none-"} {
			assert.Contains(t, text, v+hostile, "by %v: %s... shown as text", by, v)
		}
		if slices.Contains(by, KeySession) {
			for _, v := range []string{"u-", "r-", "b-", "a-", "s-"} {
				assert.Contains(t, text, v+hostile, "by %v: %s... shown as text", by, v)
			}
		}
	}
}

// TestCurrencyMustBeISO4217: a currency that is not three capital
// letters is refused, whatever source the report reads.
func TestCurrencyMustBeISO4217(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, c := range []string{"USD" + hostile, "usd", "US", "U$D", "EURO", "ÉUR"} {
		_, err := Run(context.Background(), records{rec("a", "s1", "PAY-1", "payments", "m", at, 1)}, Query{}, c)
		assert.ErrorContains(t, err, "not an ISO 4217 code", c)
	}
	for _, c := range []string{"USD", "EUR", "JPY"} {
		r := rec("a", "s1", "PAY-1", "payments", "m", at, 1)
		r.Currency = c
		_, err := Run(context.Background(), records{r}, Query{}, c)
		assert.NoError(t, err, c)
	}
	// A ledger row's currency, as its writer sent it.
	led := &Ledger{Dirs: []string{writeLedger(t, ledgerRow("s1", "USD"+hostile, at, at.Add(time.Second)))}}
	cur, err := led.Currency()
	require.NoError(t, err)
	_, err = Run(context.Background(), led, Query{}, cur)
	assert.ErrorContains(t, err, "not an ISO 4217 code")
	// In the currency of the rows counted, as the report over a ledger runs.
	_, err = Run(context.Background(), led, Query{}, "")
	assert.ErrorContains(t, err, "not an ISO 4217 code")
}
