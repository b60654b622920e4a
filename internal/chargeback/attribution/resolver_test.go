package attribution

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRulesFirstMatchPerField(t *testing.T) {
	r := mustNew(t, Config{Rules: []Rule{
		{Name: "payments", Match: Match{Repository: "acme/payments-*"}, Set: Set{Team: "payments", Project: "payments-platform"}},
		{Match: Match{Repository: "acme/**"}, Set: Set{Team: "platform", CostCenter: "CC-9"}},
		{Name: "explore", Match: Match{Agent: "explore", Branch: "spike/**"}, Set: Set{Project: "research"}},
		{Name: "everyone", Set: Set{Project: "misc", CostCenter: "CC-4100"}},
	}})
	for _, tc := range []struct {
		in   Input
		want Result
	}{
		{
			// Team and project from the first rule; it leaves the cost
			// center to the next matching rule.
			Input{Repository: "acme/payments-api", Branch: "main", Agent: "main"},
			Result{Team: "payments", Project: "payments-platform", CostCenter: "CC-9", Ticket: "unattributed", Rule: "payments"},
		},
		{
			Input{Repository: "acme/docs-site", Branch: "main"},
			Result{Team: "platform", Project: "misc", CostCenter: "CC-9", Ticket: "unattributed", Rule: "rules[1]"},
		},
		{
			// Both constraints of "explore" hold.
			Input{Repository: "acme/docs-site", Branch: "spike/search", Agent: "explore"},
			Result{Team: "platform", Project: "research", CostCenter: "CC-9", Ticket: "unattributed", Rule: "rules[1]"},
		},
		{
			// Only one does.
			Input{Repository: "other/tool", Branch: "main", Agent: "explore"},
			Result{Team: "unattributed", Project: "misc", CostCenter: "CC-4100", Ticket: "unattributed", Rule: "everyone"},
		},
		{
			// No team: Rule is the project's rule.
			Input{Repository: "other/tool", Branch: "spike/x", Agent: "explore"},
			Result{Team: "unattributed", Project: "research", CostCenter: "CC-4100", Ticket: "unattributed", Rule: "explore"},
		},
		{
			// A constraint on a missing field fails unless it matches "".
			Input{Branch: "feature/PAY-4411-refund-retries"},
			Result{Team: "unattributed", Project: "misc", CostCenter: "CC-4100", Ticket: "PAY-4411", Rule: "everyone", TicketSource: TicketFromPattern},
		},
	} {
		assert.Equal(t, tc.want, r.Resolve(tc.in), "%+v", tc.in)
	}
}

func TestRuleNameIsCostCentersLast(t *testing.T) {
	r := mustNew(t, Config{Rules: []Rule{
		{Name: "ticket", Set: Set{Ticket: "OPS-1"}},
		{Name: "cc", Match: Match{User: "alice"}, Set: Set{CostCenter: "CC-1"}},
		{Name: "project", Match: Match{User: "bob"}, Set: Set{Project: "p"}},
	}})
	assert.Equal(t, "cc", r.Resolve(Input{User: "alice"}).Rule)
	assert.Equal(t, "project", r.Resolve(Input{User: "bob"}).Rule)
	assert.Equal(t, "", r.Resolve(Input{User: "carol"}).Rule)
}

func TestMappingFileRulesBeforeInline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeVersion(t, path, 1, "rules:\n  - match: {repository: acme/ledger}\n    set: {team: ledger-file}\n")
	r := mustNew(t, Config{MappingFile: path, Rules: []Rule{
		{Name: "ledger-inline", Match: Match{Repository: "acme/ledger"}, Set: Set{Team: "ledger-inline", Project: "ledger"}},
	}})
	assert.Equal(t,
		Result{Team: "ledger-file", Project: "ledger", CostCenter: "unattributed", Ticket: "unattributed", Rule: "teams.yaml:2"},
		r.Resolve(Input{Repository: "acme/ledger"}))
}

func TestUnattributed(t *testing.T) {
	all := func(v string) Result { return Result{Team: v, Project: v, CostCenter: v, Ticket: v} }
	assert.Equal(t, all("unattributed"), mustNew(t, Config{}).Resolve(Input{}))
	assert.Equal(t, all("unattributed"), mustNew(t, Config{}).Resolve(Input{Repository: "acme/x", Branch: "main", GitRoot: "/src/x", User: "alice", Agent: "main"}))
	r := mustNew(t, Config{Unattributed: "n/a", Rules: []Rule{{Match: Match{User: "alice"}, Set: Set{Team: "payments"}}}})
	assert.Equal(t, all("n/a"), r.Resolve(Input{User: "bob", Branch: "main"}))
	assert.Equal(t, Result{Team: "payments", Project: "n/a", CostCenter: "n/a", Ticket: "n/a", Rule: "rules[0]"}, r.Resolve(Input{User: "alice"}))
}

// writeVersion replaces path atomically, as the documentation asks, and
// gives it a modification time of its own so that a check sees a new
// version however coarse the file system's clock.
func writeVersion(t *testing.T, path string, version int, content string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	mtime := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(version) * time.Minute)
	require.NoError(t, os.Chtimes(tmp, mtime, mtime))
	require.NoError(t, os.Rename(tmp, path))
}

func teamYAML(team string) string {
	return fmt.Sprintf("rules:\n  - name: %s\n    match: {repository: \"acme/*\"}\n    set: {team: %s, project: %s-project}\ntickets:\n  main: %s-1\n", team, team, team, strings.ToUpper(team))
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeVersion(t, path, 1, teamYAML("alpha"))
	core, logs := observer.New(zapcore.InfoLevel)
	r, err := New(Config{MappingFile: path, Rules: []Rule{{Name: "everyone", Set: Set{CostCenter: "CC-4100"}}}}, zap.New(core))
	require.NoError(t, err)
	in := Input{Repository: "acme/payments-api", Branch: "main"}
	team := func() string { return r.Resolve(in).Team }
	require.Equal(t, Result{Team: "alpha", Project: "alpha-project", CostCenter: "CC-4100", Ticket: "ALPHA-1", Rule: "alpha", TicketSource: TicketFromMapping}, r.Resolve(in))

	// Unchanged: nothing happens.
	r.check()
	assert.Equal(t, Stats{MappingRules: 1, MappingTickets: 1}, r.Stats())
	assert.Zero(t, logs.Len())

	// Changed: the new mapping, at once.
	writeVersion(t, path, 2, teamYAML("beta"))
	r.check()
	assert.Equal(t, Result{Team: "beta", Project: "beta-project", CostCenter: "CC-4100", Ticket: "BETA-1", Rule: "beta", TicketSource: TicketFromMapping}, r.Resolve(in))
	assert.Equal(t, Stats{Reloads: 1, MappingRules: 1, MappingTickets: 1}, r.Stats())
	require.Equal(t, 1, logs.FilterMessage("Attribution mapping file reloaded").Len())

	// Broken: the previous mapping stays, the error is counted and logged
	// once for this version of the file, with the file and the line.
	writeVersion(t, path, 3, "rules:\n  - name: gamma\n    match: {branch: \"regex:(\"}\n    set: {team: gamma}\n")
	r.check()
	r.check()
	assert.Equal(t, "beta", team())
	assert.Equal(t, Stats{Reloads: 1, ReloadErrors: 1, MappingRules: 1, MappingTickets: 1}, r.Stats())
	refused := logs.FilterMessage("Attribution mapping file not reloaded; the previous mapping stays in use").All()
	require.Len(t, refused, 1)
	assert.Equal(t, zapcore.ErrorLevel, refused[0].Level)
	fields := refused[0].ContextMap()
	assert.Equal(t, path, fields["file"])
	assert.Equal(t, path+`:2: rules::0 ("gamma"): match::branch: regex "(": error parsing regexp: missing closing ): `+"`(`", fields["error"])

	// Another broken version is another error.
	writeVersion(t, path, 4, "")
	r.check()
	assert.Equal(t, "beta", team())
	assert.Equal(t, Stats{Reloads: 1, ReloadErrors: 2, MappingRules: 1, MappingTickets: 1}, r.Stats())

	// Fixed: the new mapping.
	writeVersion(t, path, 5, "rules:\n  - name: delta\n    set: {team: delta}\n  - name: epsilon\n    set: {project: e}\n")
	r.check()
	assert.Equal(t, "delta", team())
	assert.Equal(t, Stats{Reloads: 2, ReloadErrors: 2, MappingRules: 2}, r.Stats())
	assert.Equal(t, "unattributed", r.Resolve(in).Ticket, "the old file's tickets are gone")

	// Deleted: the previous mapping stays; counted once.
	require.NoError(t, os.Remove(path))
	r.check()
	r.check()
	assert.Equal(t, "delta", team())
	assert.Equal(t, Stats{Reloads: 2, ReloadErrors: 3, MappingRules: 2}, r.Stats())
	assert.Contains(t, logs.All()[logs.Len()-1].ContextMap()["error"], "no such file or directory")

	// Back again: read.
	writeVersion(t, path, 6, teamYAML("zeta"))
	r.check()
	assert.Equal(t, "zeta", team())
	assert.Equal(t, Stats{Reloads: 3, ReloadErrors: 3, MappingRules: 1, MappingTickets: 1}, r.Stats())

	// The same content under a new modification time is read again.
	writeVersion(t, path, 7, teamYAML("zeta"))
	r.check()
	assert.Equal(t, Stats{Reloads: 4, ReloadErrors: 3, MappingRules: 1, MappingTickets: 1}, r.Stats())

	// Rewritten in place (same file, new size): read again.
	require.NoError(t, os.WriteFile(path, []byte(teamYAML("eta-in-place")), 0o600))
	r.check()
	assert.Equal(t, "eta-in-place", team())
	assert.Equal(t, uint64(5), r.Stats().Reloads)
}

func TestReloadCSVNamesRulesByLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.csv")
	writeVersion(t, path, 1, "repository,team\nacme/payments-api,payments\n")
	r := mustNew(t, Config{MappingFile: path})
	assert.Equal(t, "teams.csv:2", r.Resolve(Input{Repository: "acme/payments-api"}).Rule)
	writeVersion(t, path, 2, "repository,team\n# moved down\nacme/ledger,ledger\nacme/payments-api,payments\n")
	r.check()
	assert.Equal(t, "teams.csv:4", r.Resolve(Input{Repository: "acme/payments-api"}).Rule)
	assert.Equal(t, "ledger", r.Resolve(Input{Repository: "acme/ledger"}).Team)
}

// TestStartReloadsAndShutdownStops runs the real loop.
func TestStartReloadsAndShutdownStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeVersion(t, path, 1, teamYAML("alpha"))
	r := mustNew(t, Config{MappingFile: path, ReloadInterval: 5 * time.Millisecond})
	r.Start(context.Background())
	r.Start(context.Background()) // no second loop
	t.Cleanup(func() { shutdownWithin(t, r, 10*time.Second) })

	writeVersion(t, path, 2, teamYAML("beta"))
	require.Eventually(t, func() bool {
		return r.Resolve(Input{Repository: "acme/x"}).Team == "beta"
	}, 10*time.Second, 5*time.Millisecond)

	writeVersion(t, path, 3, "rules: [")
	require.Eventually(t, func() bool { return r.Stats().ReloadErrors == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "beta", r.Resolve(Input{Repository: "acme/x"}).Team)

	writeVersion(t, path, 4, teamYAML("gamma"))
	require.Eventually(t, func() bool {
		return r.Resolve(Input{Repository: "acme/x"}).Team == "gamma"
	}, 10*time.Second, 5*time.Millisecond)

	shutdownWithin(t, r, 10*time.Second)
	r.Shutdown()
	goleak.VerifyNone(t)

	// Stopped: a change is no longer seen.
	writeVersion(t, path, 5, teamYAML("delta"))
	r.Start(context.Background())
	assert.Equal(t, "gamma", r.Resolve(Input{Repository: "acme/x"}).Team)
	assert.Equal(t, Stats{Reloads: 2, ReloadErrors: 1, MappingRules: 1, MappingTickets: 1}, r.Stats())
	goleak.VerifyNone(t)
}

// shutdownWithin fails the test if r.Shutdown does not return in time.
func shutdownWithin(t *testing.T, r *Resolver, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Shutdown()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("Shutdown did not return")
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.csv")
	writeVersion(t, path, 1, "team\npayments\n")
	withFile := mustNew(t, Config{MappingFile: path})
	shutdownWithin(t, withFile, 10*time.Second)
	withFile.Start(context.Background()) // after Shutdown: no loop
	noFile := mustNew(t, Config{})
	noFile.Start(context.Background()) // no file: no loop
	shutdownWithin(t, noFile, 10*time.Second)
	goleak.VerifyNone(t)
}

// TestResolveWhileReloading: under -race, Resolve from many goroutines while
// the mapping is replaced; every result is all of one file or all of the
// other.
func TestResolveWhileReloading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeVersion(t, path, 0, teamYAML("alpha"))
	r := mustNew(t, Config{
		MappingFile: path,
		Ticket:      TicketConfig{Pattern: `#([0-9]+)`},
		Rules:       []Rule{{Name: "everyone", Set: Set{CostCenter: "CC-4100"}}},
	})
	want := map[string]Result{}
	for _, team := range []string{"alpha", "beta"} {
		want[team] = Result{Team: team, Project: team + "-project", CostCenter: "CC-4100", Ticket: strings.ToUpper(team) + "-1", Rule: team, TicketSource: TicketFromMapping}
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				res := r.Resolve(Input{Repository: "acme/payments-api", Branch: "main"})
				if res != want[res.Team] {
					errs <- fmt.Sprintf("torn result %+v", res)
					return
				}
				// The pattern cache, shared too.
				if got := r.Resolve(Input{Branch: fmt.Sprintf("fix/#%d", (g*7+i)%100)}).Ticket; got != fmt.Sprint((g*7+i)%100) {
					errs <- fmt.Sprintf("branch fix/#%d: ticket %q", (g*7+i)%100, got)
					return
				}
				_ = r.Stats()
			}
		}()
	}
	for v := 1; v <= 50; v++ {
		team := "alpha"
		if v%2 == 1 {
			team = "beta"
		}
		writeVersion(t, path, v, teamYAML(team))
		r.check()
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	assert.Equal(t, uint64(50), r.Stats().Reloads)
	assert.Equal(t, "alpha", r.Resolve(Input{Repository: "acme/x"}).Team)
}

func TestResolveAllocatesNothing(t *testing.T) {
	r := mustNew(t, benchConfig(t))
	for _, in := range benchInputs {
		r.Resolve(in) // fill the pattern cache
		assert.Zero(t, testing.AllocsPerRun(100, func() { r.Resolve(in) }), "%+v", in)
	}
}

// benchConfig is 50 rules, the shape of a real configuration: a file of
// repository rules (here inline), a few branch and agent rules, and a
// catch-all cost center at the end.
func benchConfig(tb testing.TB) Config {
	tb.Helper()
	var rules []Rule
	for i := range 44 {
		rules = append(rules, Rule{
			Name:  fmt.Sprintf("svc-%02d", i),
			Match: Match{Repository: fmt.Sprintf("acme/svc-%02d-*", i)},
			Set:   Set{Team: fmt.Sprintf("team-%d", i%9), Project: fmt.Sprintf("project-%02d", i)},
		})
	}
	rules = append(rules,
		Rule{Name: "web", Match: Match{Repository: "acme/{web,mobile}-app"}, Set: Set{Team: "frontend"}},
		Rule{Name: "infra", Match: Match{Repository: "regex:acme/infra-.*"}, Set: Set{Team: "platform"}},
		Rule{Name: "docs", Match: Match{GitRoot: "/home/*/src/docs-site"}, Set: Set{Team: "docs"}},
		Rule{Name: "research", Match: Match{Agent: "explore", User: "regex:alice|bob"}, Set: Set{Project: "research"}},
		Rule{Name: "chores", Match: Match{Branch: "chore/**"}, Set: Set{Ticket: "OPS-2"}},
		Rule{Name: "everyone", Set: Set{CostCenter: "CC-4100"}},
	)
	require.Len(tb, rules, 50)
	return Config{Rules: rules, Ticket: TicketConfig{Mapping: map[string]string{"main": "OPS-1", "release/**": "REL-100"}}}
}

var benchInputs = []Input{
	{Repository: "acme/svc-00-api", Branch: "feature/PAY-4411-refund-retries", GitRoot: "/home/dev/src/svc-00-api", User: "alice", Agent: "main"},
	{Repository: "acme/svc-43-worker", Branch: "main", GitRoot: "/home/dev/src/svc-43-worker", User: "bob", Agent: "explore"},
	{Repository: "acme/mobile-app", Branch: "release/2.4", GitRoot: "/home/dev/src/mobile-app", User: "carol", Agent: "main"},
	{Repository: "acme/infra-terraform", Branch: "chore/bump-provider", GitRoot: "/home/dev/src/infra", User: "dave", Agent: "task"},
	{Repository: "other/unknown", Branch: "bugfix/OPS-77-flaky", GitRoot: "/tmp/x", User: "erin", Agent: "main"},
}

func BenchmarkResolve(b *testing.B) {
	r := mustNew(b, benchConfig(b))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Resolve(benchInputs[i%len(benchInputs)])
		i++
	}
}
