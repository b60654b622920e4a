package jiraexporter

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// storeFrom is a store holding the entries of a fixture file (key to
// stored value).
func storeFrom(t *testing.T, path string) *storageclient.Memory {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	s := storageclient.NewMemory()
	for k, v := range m {
		require.NoError(t, s.Set(context.Background(), k, []byte(v)))
	}
	return s
}

// State stored before sessions had legs (testdata/state-9edd72c.json: the
// exporter at 9edd72c with testConfig on data center, given s1's leg 0 on
// PAY-1 at 5 credits, s2's leg 0 on PAY-1 at 2, and s3's leg 0 on PAY-1 at
// 2 and its leg 1 on PAY-2 at 3 in all) holds each session's whole total
// on its tickets and no session/<id> key: PAY-1 has 9 credits, PAY-2 3.
// After the upgrade s1's idle summary (3 credits, queued behind its
// shutdown's) does not take PAY-1 back, s2 resumed on PAY-2 counts there
// only what its leg 1 added, and so does s3: PAY-1 is not written again,
// PAY-2 has 1 + 1, and no comment is posted or edited on PAY-1.
func TestStateFromBeforeLegs(t *testing.T) {
	f, url := newFakeJira(t, false)
	r := startExporter(t, testConfig(url, false), storeFrom(t, "testdata/state-9edd72c.json"))
	require.NoError(t, r.e.pushLogs(context.Background(), logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 3_000_000_000, input: 30},
		summary{session: "s2", ticket: "PAY-2", leg: 1, nanoAIU: 3_000_000_000, input: 30},
	)))
	assert.Equal(t, map[string]float64{"PAY-2": 2}, lastFields(f))
	for _, q := range f.got() {
		assert.NotContains(t, q.Path, "/PAY-1", "PAY-1 is as the old version left it")
	}
	assert.Equal(t, []string{"GitHub Copilot session s2 (leg 1): AI Credits: 3, Tokens: 30, Premium requests: 0"}, f.commentTexts("PAY-2"))
}

// State stored before the exporter kept what each leg's comment shows
// (testdata/state-be0d61d.json: the exporter at be0d61d, given the same
// summaries as state-9edd72c.json) has only the comments' ids. A replayed
// older summary of a leg after the upgrade (s1's idle summary, 3 credits,
// after its shutdown's 5) does not edit the leg's comment to the older
// usage: the comment keeps agreeing with the field, and none is posted.
func TestCommentsFromBeforeLegs(t *testing.T) {
	f, url := newFakeJira(t, false)
	for range 3 {
		f.addUserComment("PAY-1", "the comments the old version posted: 10001 to 10003")
	}
	r := startExporter(t, testConfig(url, false), storeFrom(t, "testdata/state-be0d61d.json"))
	require.NoError(t, r.e.pushLogs(context.Background(), logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 3_000_000_000, input: 30},
	)))
	assert.Empty(t, comments(f.got()))
	for _, q := range f.got() {
		if strings.Contains(q.Path, "/comment/") {
			assert.Equal(t, "GitHub Copilot session s1 (leg 0): AI Credits: 5, Tokens: 50, Premium requests: 0", q.Body["body"])
		}
	}
	// Written once, as the old version did: it did not keep what it wrote.
	assert.Equal(t, map[string]float64{"PAY-1": 9}, lastFields(f))
}
