package jiraexporter

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// The tests here lose the answer to a comment's post after Jira applied
// it, in each way it happens: the retry must find the comment rather than
// post it a second time.

// serveAfter puts the stand-in Jira behind a handler on 127.0.0.1 that
// lets Jira apply each request and then may answer otherwise: after
// returns true when it has answered.
func serveAfter(t *testing.T, f *fakeJira, after func(w http.ResponseWriter, r *http.Request) bool) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, r) // applied
		if after(w, r) {
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// firstPost is true for the first comment post only.
func firstPost(r *http.Request, done *atomic.Bool) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comment") && done.CompareAndSwap(false, true)
}

func gets(rs []request) int {
	n := 0
	for _, r := range rs {
		if r.Method == http.MethodGet {
			n++
		}
	}
	return n
}

// A proxy answers 502 to a post Jira applied; meanwhile people comment on
// the issue, so the lost comment is pages deep: the retry lists the
// issue's comments, finds the leg's by how it starts, and adopts it.
func TestLostAnswerAfter5xxAdoptsComment(t *testing.T) {
	for _, v3 := range []bool{true, false} {
		t.Run(map[bool]string{true: "v3", false: "v2"}[v3], func(t *testing.T) {
			f, _ := newFakeJira(t, v3)
			f.pageSize = 2
			f.addUserComment("PAY-1", "GitHub Copilot session s9 (leg 0): someone else's leg")
			var failed atomic.Bool
			url := serveAfter(t, f, func(w http.ResponseWriter, r *http.Request) bool {
				if firstPost(r, &failed) {
					http.Error(w, "bad gateway", http.StatusBadGateway)
					return true
				}
				return false
			})
			r := startExporter(t, testConfig(url, v3), storageclient.NewMemory())
			ctx := context.Background()
			ld := logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 1, output: 1})
			require.Error(t, r.e.pushLogs(ctx, ld), "a 502 is retried")
			for i := range 5 {
				f.addUserComment("PAY-1", "a reply "+string(rune('a'+i)))
			}
			f.reset()
			require.NoError(t, r.e.pushLogs(ctx, ld)) // retry_on_failure's retry

			texts := f.commentTexts("PAY-1")
			var ours []string
			for _, c := range texts {
				if strings.HasPrefix(c, "GitHub Copilot session s1 ") {
					ours = append(ours, c)
				}
			}
			assert.Equal(t, []string{"GitHub Copilot session s1 (leg 0): AI Credits: 1, Tokens: 2, Premium requests: 0"}, ours, "one comment per session leg")
			assert.Empty(t, comments(f.got()), "the retry posted nothing")
			assert.Equal(t, 4, gets(f.got()), "seven comments, two a page")

			// Adopted: the leg's comment is the one Jira has; a later
			// summary of the leg edits it, and nothing lists again.
			f.reset()
			require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 1, output: 1})))
			assert.Zero(t, gets(f.got()))
			assert.Empty(t, comments(f.got()))
			assert.Contains(t, f.commentTexts("PAY-1"), "GitHub Copilot session s1 (leg 0): AI Credits: 2, Tokens: 2, Premium requests: 0")
		})
	}
}

// Jira applies the post but answers after the exporter's timeout: the
// exporter helper's retry finds the comment instead of posting it again.
func TestLostAnswerAfterTimeoutAdoptsComment(t *testing.T) {
	f, _ := newFakeJira(t, true)
	var slow atomic.Bool
	url := serveAfter(t, f, func(_ http.ResponseWriter, r *http.Request) bool {
		if firstPost(r, &slow) {
			<-r.Context().Done() // answer only once the exporter gave up
			return true
		}
		return false
	})
	cfg := testConfig(url, true)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.TimeoutConfig.Timeout = 200 * time.Millisecond
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	set := exportertest.NewNopSettings(metadata.Type)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWith(nil)))
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.True(t, slow.Load(), "the first post timed out")
	assert.Equal(t, []string{"GitHub Copilot session s1 (leg 0): AI Credits: 1, Tokens: 0, Premium requests: 0"}, f.commentTexts("PAY-1"))
}

// failingStore fails the first write of the state that holds comment id.
type failingStore struct {
	*storageclient.Memory
	id     string
	failed bool
}

func (s *failingStore) Set(ctx context.Context, k string, v []byte) error {
	if !s.failed && strings.Contains(string(v), `"`+s.id+`"`) {
		s.failed = true
		return errors.New("storage: disk full")
	}
	return s.Memory.Set(ctx, k, v)
}

// The storage extension fails to save the id of a comment Jira took: the
// retry finds the comment instead of posting it again.
func TestLostCommentIDAdoptsComment(t *testing.T) {
	f, url := newFakeJira(t, true)
	r := startExporter(t, testConfig(url, true), nil)
	store := &failingStore{Memory: storageclient.NewMemory(), id: "10001"}
	r.e.store = store
	ld := logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})
	require.Error(t, r.e.pushLogs(context.Background(), ld))
	require.True(t, store.failed)
	require.NoError(t, r.e.pushLogs(context.Background(), ld))
	assert.Len(t, f.commentTexts("PAY-1"), 1, "one comment per session leg")
}

// The lost post never reached Jira: the retry looks, finds nothing, and
// posts the comment.
func TestLostPostThatJiraNeverGotIsPosted(t *testing.T) {
	f, _ := newFakeJira(t, false)
	var failed atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if firstPost(r, &failed) {
			http.Error(w, "bad gateway", http.StatusBadGateway) // not applied
			return
		}
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	r := startExporter(t, testConfig(srv.URL, false), storageclient.NewMemory())
	ld := logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})
	require.Error(t, r.e.pushLogs(context.Background(), ld))
	require.NoError(t, r.e.pushLogs(context.Background(), ld))
	assert.Equal(t, []string{"GitHub Copilot session s1 (leg 0): AI Credits: 1, Tokens: 0, Premium requests: 0"}, f.commentTexts("PAY-1"))
	assert.Equal(t, 1, gets(f.got()))
}
