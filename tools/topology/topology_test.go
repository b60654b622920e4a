//go:build topology

// Package topology runs a fleet on loopback — laptop agents reading real
// and generated transcripts, hook forwarders posting real CLI payloads, a
// round-robin load balancer, three gateways with the configuration of
// deploy/kubernetes and one final sink — kills a gateway and an agent with
// SIGKILL in the middle, and checks that the sink's totals by model, team
// and ticket equal the CLI's own accounting, with each budget crossing
// once.
//
//	go test -tags topology -count=1 ./tools/topology -v                     # the short form CI runs
//	go test -tags topology -count=1 ./tools/topology -v -args -topology.sessions=600 -topology.seed=7
package topology

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

var (
	sessions = flag.Int("topology.sessions", 45, "generated sessions, spread over three agents")
	seed     = flag.Uint64("topology.seed", 1, "seed of the corpus and of the fault times")
	keep     = flag.Bool("topology.keep", false, "keep the work directory")
)

const token = "fleet-test-token"

// repoTeams are the attribution rules of the test: each repository the
// generator writes is a team; a session without a repository is
// unattributed.
var repoTeams = map[string]string{
	"acme/payments-api": "payments", "acme/docs-site": "docs", "acme/web-console": "web",
	"acme/ingest-pipeline": "data", "acme/ledger-service": "ledger", "acme/mobile-app": "mobile",
}

var ticketKey = regexp.MustCompile(`[A-Z][A-Z0-9]+-[0-9]+`)

// owner is a session's team and ticket, by hand: the test's rules and the
// ticket key in the branch.
type owner struct{ team, ticket string }

func ownerOf(repo, branch string) owner {
	o := owner{team: "unattributed", ticket: "unattributed"}
	if t, ok := repoTeams[repo]; ok {
		o.team = t
	}
	if k := ticketKey.FindString(branch); k != "" {
		o.ticket = k
	}
	return o
}

func TestFleet(t *testing.T) {
	work := t.TempDir()
	if *keep {
		work, _ = os.MkdirTemp("", "topology-")
		t.Logf("work directory %s", work)
	}
	bin := buildAll(t, work)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The sink: every request it accepts, one JSON line per signal.
	sinkPort := freePort(t)
	sinkOut := filepath.Join(work, "sink")
	require.NoError(t, os.MkdirAll(sinkOut, 0o755))
	sink := newProc(t, work, "sink", bin.gateway, []string{"--config", writeFile(t, work, "sink.yaml", sinkConfig(sinkPort, sinkOut))}, nil)
	sink.start(t)
	waitPort(t, sinkPort)

	// Three gateways with deploy/kubernetes/config.yaml, moved to loopback.
	const n = 3
	var gw [n]*proc
	var agentPorts, ownedPorts, hookPorts, healthPorts, telemetryPorts [n]int
	for i := range n {
		agentPorts[i], ownedPorts[i], hookPorts[i], healthPorts[i], telemetryPorts[i] = freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	}
	lbAgents, lbHooks := freePort(t), freePort(t)
	for i := range n {
		cfg := gatewayConfig(t, i, agentPorts, ownedPorts, hookPorts, healthPorts[i], sinkPort, lbHooks, telemetryPorts[i])
		state := filepath.Join(work, fmt.Sprintf("gateway-%d-state", i))
		gw[i] = newProc(t, work, fmt.Sprintf("gateway-%d", i), bin.gateway, []string{"--config", writeFile(t, work, fmt.Sprintf("gateway-%d.yaml", i), cfg)},
			[]string{"OTELCOL_COPILOT_HOOK_TOKEN=" + token, "OTELCOL_COPILOT_STATE_DIR=" + state, "POD_NAME=gateway-" + fmt.Sprint(i)})
		gw[i].start(t)
	}
	for i := range n {
		waitPort(t, hookPorts[i])
		waitPort(t, ownedPorts[i])
	}
	// The load balancer in front: round robin, past replicas that refuse.
	go balance(ctx, t, lbAgents, agentPorts[:])
	go balance(ctx, t, lbHooks, hookPorts[:])

	// Three laptops: generated sessions (the first four a resumed one,
	// one with subagents, a killed one and a resumed one killed in its
	// second leg, all on the first laptop) and the real CLI's recorded
	// sessions on the first.
	tokenFile := writeFile(t, work, "gateway-token", token)
	require.NoError(t, os.Chmod(tokenFile, 0o600))
	corpus := generate(t, *sessions, *seed)
	var homes [n]string
	var agents [n]*proc
	for i := range n {
		homes[i] = filepath.Join(work, fmt.Sprintf("laptop-%d", i), ".copilot")
		require.NoError(t, os.MkdirAll(filepath.Join(homes[i], "session-state"), 0o755))
		agents[i] = newProc(t, work, fmt.Sprintf("agent-%d", i), bin.laptop, []string{
			"--config=otelcol-copilot:default",
			"--set=receivers::copilot::hooks::endpoint=127.0.0.1:0",
			"--set=extensions::health_check::endpoint=127.0.0.1:0",
			"--set=service::telemetry::metrics::level=none",
		}, []string{
			"COPILOT_HOME=" + homes[i],
			"OTELCOL_COPILOT_STATE_DIR=" + filepath.Join(work, fmt.Sprintf("laptop-%d", i), "state"),
			"OTELCOL_COPILOT_GATEWAY=http://127.0.0.1:" + fmt.Sprint(lbAgents),
			"OTELCOL_COPILOT_GATEWAY_TOKEN_FILE=" + tokenFile,
		})
	}
	require.NoError(t, os.CopyFS(filepath.Join(homes[0], "session-state"), os.DirFS("../../testdata/copilot-cli/1.0.102-repos/session-state")))
	for i, s := range corpus {
		s.path = filepath.Join(homes[i%n], "session-state", s.id, "events.jsonl")
		if i%2 == 0 { // half on disk before the laptops start
			s.write(t, len(s.lines))
		}
	}
	for _, a := range agents {
		a.start(t)
	}

	// Hook forwarders post the real CLI's recorded payloads of sessions no
	// laptop reads, through the load balancer to the hook endpoints.
	hookHome := filepath.Join(work, "hooks-home", ".copilot")
	require.NoError(t, os.CopyFS(filepath.Join(hookHome, "session-state"), os.DirFS("../../testdata/copilot-cli/1.0.102/session-state")))
	hooks := recordedHooks(t, "../../testdata/copilot-cli/1.0.102/hooks")
	hookEnv := []string{
		"COPILOT_HOME=" + hookHome, "OTELCOL_COPILOT_ENDPOINT=http://127.0.0.1:" + fmt.Sprint(lbHooks),
		"OTELCOL_COPILOT_TOKEN=" + token, "OTELCOL_COPILOT_SPOOL_DIR=" + filepath.Join(work, "hooks-spool"),
		"OTELCOL_COPILOT_STATE_DIR=" + filepath.Join(work, "hooks-state"),
	}

	// The run: the rest of the transcripts appended over the run, the
	// hooks posted, a gateway and a laptop killed with SIGKILL and
	// restarted in the middle.
	r := rand.New(rand.NewPCG(*seed, 0x70b0))
	const steps = 40
	killGateway, killAgent := 10+r.IntN(8), 20+r.IntN(8)
	for step := range steps {
		for _, s := range corpus {
			s.write(t, len(s.lines)*(step+1)/steps)
		}
		for j := len(hooks) * step / steps; j < len(hooks)*(step+1)/steps; j++ {
			forward(t, bin.hook, hookEnv, hooks[j])
		}
		switch step {
		case killGateway:
			t.Logf("step %d: SIGKILL gateway-1", step)
			gw[1].kill(t)
			time.Sleep(2 * time.Second)
			gw[1].start(t)
		case killAgent:
			t.Logf("step %d: SIGKILL agent-2", step)
			agents[2].kill(t)
			time.Sleep(time.Second)
			agents[2].start(t)
		}
		time.Sleep(150 * time.Millisecond)
	}
	// What the forwarders spooled while a gateway was away.
	drain(t, bin.hook, hookEnv)

	// The CLI's own accounting, by hand.
	want := expect(t, corpus, homes[0], hookHome)
	var got totals
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		got = readSink(t, sinkOut)
		if got.equal(want) {
			break
		}
		drain(t, bin.hook, hookEnv)
		time.Sleep(2 * time.Second)
	}
	// What the owning replicas' dedup processors dropped: requests sent
	// again whole after a replica's outage (their counters since their
	// last start).
	dropped := 0
	for i := range n {
		dropped += scrapeSum(t, telemetryPorts[i], "otelcol_processor_dedup_dropped")
	}
	for _, p := range append(append([]*proc{}, agents[:]...), gw[:]...) {
		p.stop(t)
	}
	sink.stop(t)
	got = readSink(t, sinkOut)
	t.Logf("the owners' dedup dropped %d repeated items", dropped)
	// What still repeats at the sink is what a killed owner's queue had in
	// flight: whole requests, at most its consumers' worth per signal.
	assert.LessOrEqual(t, got.repeatedRequests, 3*10, "requests repeated at the sink, beyond what one owner kill leaves in flight")
	assert.Zero(t, got.mixedRequests, "requests with repeated points among new ones: a request sent again whole reached the sink past the owner's dedup")
	for owner, n := range got.repeatedBy {
		assert.Equal(t, "gateway-1", owner, "%d points repeated by %s, which was not killed: a request sent again whole passed its dedup", n, owner)
	}

	t.Logf("sink: %d unique points (%d repeated identically, in %d requests), %d crossings (%d repeated identically); %d sessions on laptops, %d by hooks",
		got.points, got.repeatedPoints, got.repeatedRequests, len(got.crossings), got.repeatedCrossings, want.sessions, want.hookSessions)
	assert.Zero(t, got.conflicts, "points with the same identity and different values")
	assertTotals(t, "model", want.byModel, got.byModel)
	assertTotals(t, "team", want.byTeam, got.byTeam)
	assertTotals(t, "ticket", want.byTicket, got.byTicket)

	// Each team with spend crossed each threshold of its budget once.
	var wantCrossings []string
	for team, tot := range want.byTeam {
		if tot.NanoAIU > 0 {
			for _, th := range []string{"50", "75", "90", "100"} {
				wantCrossings = append(wantCrossings, team+"@"+th)
			}
		}
	}
	var gotCrossings []string
	for _, c := range got.crossings {
		gotCrossings = append(gotCrossings, c)
	}
	sort.Strings(wantCrossings)
	sort.Strings(gotCrossings)
	assert.Equal(t, wantCrossings, gotCrossings, "one crossing per team and threshold")
	assert.Zero(t, got.crossingConflicts, "a crossing id with two different records")
	if t.Failed() {
		for _, p := range append(append([]*proc{sink}, agents[:]...), gw[:]...) {
			t.Logf("%s: %s", p.name, p.tail())
		}
	}
}

// binaries are the three programs the fleet runs.
type binaries struct{ laptop, gateway, hook string }

func buildAll(t *testing.T, work string) binaries {
	b := binaries{
		laptop: filepath.Join(work, "bin", "otelcol-copilot"), gateway: filepath.Join(work, "bin", "otelcol-copilot-gateway"),
		hook: filepath.Join(work, "bin", "otelcol-copilot-hook"),
	}
	for out, pkg := range map[string]string{b.laptop: "./cmd/otelcol-copilot", b.gateway: "./cmd/otelcol-copilot-gateway", b.hook: "./cmd/otelcol-copilot-hook"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = "../.."
		outb, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", pkg, outb)
	}
	return b
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d", port)
}

// proc is one collector process, restartable.
type proc struct {
	name, binary string
	args, env    []string
	log          string
	cmd          *exec.Cmd
	done         chan struct{}
}

func newProc(t *testing.T, work, name, binary string, args, env []string) *proc {
	p := &proc{name: name, binary: binary, args: args, env: env, log: filepath.Join(work, name+".log")}
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
	})
	return p
}

func (p *proc) start(t *testing.T) {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	p.cmd = exec.Command(p.binary, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(t, p.cmd.Start(), p.name)
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
}

func (p *proc) kill(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

func (p *proc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on SIGTERM", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	return string(b)
}

// balance is a TCP load balancer: connections go round robin to the
// backends, past those that refuse.
func balance(ctx context.Context, t *testing.T, port int, backends []int) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("load balancer: %v", err)
		return
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			start := next.Add(1)
			for i := range uint64(len(backends)) {
				b, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", backends[(start+i)%uint64(len(backends))]), time.Second)
				if err != nil {
					continue
				}
				defer b.Close()
				go func() { _, _ = io.Copy(b, c); b.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, b)
				return
			}
		}()
	}
}

func sinkConfig(port int, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:%d\nexporters:\n", port)
	for _, sig := range []string{"metrics", "logs", "traces"} {
		// Rotation makes the file exporter write each request at once.
		fmt.Fprintf(&b, "  file/%s:\n    path: %q\n    format: json\n    rotation:\n      max_megabytes: 1000000\n", sig, filepath.Join(out, sig+".jsonl"))
	}
	b.WriteString("service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n")
	for _, sig := range []string{"metrics", "logs", "traces"} {
		fmt.Fprintf(&b, "    %s:\n      receivers: [otlp]\n      exporters: [file/%s]\n", sig, sig)
	}
	return b.String()
}

// gatewayConfig is deploy/kubernetes/config.yaml on loopback: its ports,
// the replicas' names as loopback ports, the test's attribution rules and
// a budget every team with spend crosses at once, in one window.
func gatewayConfig(t *testing.T, i int, agents, owned, hooks [3]int, health, sink, lbHooks, telemetry int) string {
	b, err := os.ReadFile("../../deploy/kubernetes/config.yaml")
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, yaml.Unmarshal(b, &c))
	m := func(path ...string) map[string]any {
		v := any(c)
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v.(map[string]any)
	}
	m("extensions", "health_check")["endpoint"] = fmt.Sprintf("127.0.0.1:%d", health)
	m("receivers", "otlp/agents", "protocols", "http")["endpoint"] = fmt.Sprintf("127.0.0.1:%d", agents[i])
	m("receivers", "otlp/owned", "protocols", "grpc")["endpoint"] = fmt.Sprintf("127.0.0.1:%d", owned[i])
	h := m("receivers", "copilot", "hooks")
	h["endpoint"] = fmt.Sprintf("127.0.0.1:%d", hooks[i])
	// Forwarders reach the endpoints through the load balancer's port.
	h["allowed_hosts"] = []any{fmt.Sprintf("127.0.0.1:%d", lbHooks)}
	var peers, lb []any
	for j := range 3 {
		peers = append(peers, fmt.Sprintf("http://127.0.0.1:%d", hooks[j]))
		lb = append(lb, fmt.Sprintf("127.0.0.1:%d", owned[j]))
	}
	m("receivers", "copilot", "hooks", "peers")["self"] = peers[i]
	m("receivers", "copilot", "hooks", "peers")["endpoints"] = peers
	m("exporters", "load_balancing", "resolver", "static")["hostnames"] = lb
	m("exporters", "otlp_http")["endpoint"] = fmt.Sprintf("http://127.0.0.1:%d", sink)
	var rules []any
	for repo, team := range repoTeams {
		rules = append(rules, map[string]any{"name": team, "match": map[string]any{"repository": repo}, "set": map[string]any{"team": team}})
	}
	sort.Slice(rules, func(a, b int) bool {
		return rules[a].(map[string]any)["name"].(string) < rules[b].(map[string]any)["name"].(string)
	})
	m("processors", "chargeback/route")["attribution"] = map[string]any{"rules": rules}
	m("processors", "chargeback")["attribution"] = map[string]any{"rules": rules}
	m("processors", "chargeback")["budgets"] = []any{map[string]any{
		"name": "team-fixed", "scope": "team", "amount": "0.000000001", "period": "fixed",
		"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z",
	}}
	// Which owner sent a point on: what repeats at the sink must come from
	// the owner that was killed (its queue's requests in flight), never
	// from the others (a laptop's request sent again whole).
	c["processors"].(map[string]any)["transform/owner"] = map[string]any{"metric_statements": []any{map[string]any{
		"context": "resource", "statements": []any{fmt.Sprintf(`set(attributes["test.owner"], "gateway-%d")`, i)},
	}}}
	mp := m("service", "pipelines", "metrics")
	mp["processors"] = append(mp["processors"].([]any), "transform/owner")
	c["service"].(map[string]any)["telemetry"] = map[string]any{"metrics": map[string]any{"level": "normal", "readers": []any{
		map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetry}}}},
	}}}
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	return string(out)
}

// session is a generated transcript written line by line.
type session struct {
	id, path, repo, branch string
	lines                  [][]byte
	written                int
}

func (s *session) write(t *testing.T, upTo int) {
	if upTo <= s.written {
		return
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(s.path), 0o755))
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	for _, l := range s.lines[s.written:upTo] {
		_, err := f.Write(l)
		require.NoError(t, err)
	}
	s.written = upTo
}

var models = []string{"claude-sonnet-4.6", "claude-opus-4.6", "claude-haiku-4.5", "gpt-5.3-codex", "gpt-5-mini"}

func generate(t *testing.T, n int, seed uint64) []*session {
	r := rand.New(rand.NewPCG(seed, 0xf1ee7))
	var out []*session
	for i := range n {
		o := transcriptgen.Options{
			Seed: int64(r.Uint64() >> 1), SystemPromptKB: 4, ToolOutputKB: 1, Interactions: 1 + r.IntN(3),
			Models: []string{models[r.IntN(len(models))]}, Billed: r.IntN(3) > 0,
			Subagents: r.IntN(5) == 0, Resume: r.IntN(6) == 0, Killed: r.IntN(10) == 0,
		}
		switch i {
		case 0:
			o.Resume, o.Killed, o.Billed = true, false, true
		case 3:
			o.Subagents, o.Killed = true, false
		case 6:
			o.Killed, o.Resume = true, false
		case 9:
			o.Resume, o.Killed, o.Subagents = true, true, true
		}
		var buf bytes.Buffer
		st, err := transcriptgen.Write(&buf, o)
		require.NoError(t, err)
		s := &session{id: st.SessionID}
		for _, l := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
			if len(l) > 0 {
				s.lines = append(s.lines, l)
			}
		}
		s.repo, s.branch = contextOf(t, s.lines[0])
		out = append(out, s)
	}
	return out
}

// contextOf reads the repository and branch of a session.start line.
func contextOf(t *testing.T, line []byte) (repo, branch string) {
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Context struct {
				Repository string `json:"repository"`
				Branch     string `json:"branch"`
			} `json:"context"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(line, &ev))
	require.Equal(t, "session.start", ev.Type)
	return ev.Data.Context.Repository, ev.Data.Context.Branch
}

type hookPayload struct {
	typ  string
	time int64
	body []byte
}

func recordedHooks(t *testing.T, dir string) []hookPayload {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []hookPayload
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) == 0 {
				continue
			}
			var p struct {
				Timestamp int64 `json:"timestamp"`
			}
			_ = json.Unmarshal(l, &p)
			out = append(out, hookPayload{typ: strings.TrimSuffix(filepath.Base(f), ".jsonl"), time: p.Timestamp, body: l})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].time < out[j].time })
	return out
}

func forward(t *testing.T, hookBin string, env []string, p hookPayload) {
	cmd := exec.Command(hookBin, "forward", p.typ, "--no-drainer", "--sync-wait=0s", "--timeout=5s")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(p.body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "forward %s: %s", p.typ, out)
}

func drain(t *testing.T, hookBin string, env []string) {
	cmd := exec.Command(hookBin, "drain")
	cmd.Env = append(os.Environ(), env...)
	_ = cmd.Run() // a gateway still away leaves the spool for the next try
}

// want is the CLI's own accounting of every session, summed by model,
// team and ticket.
type want struct {
	byModel, byTeam, byTicket map[string]cliaccounting.ModelTotals
	sessions, hookSessions    int
}

func expect(t *testing.T, corpus []*session, recordedHome, hookHome string) want {
	w := want{byModel: map[string]cliaccounting.ModelTotals{}, byTeam: map[string]cliaccounting.ModelTotals{}, byTicket: map[string]cliaccounting.ModelTotals{}}
	add := func(path, repo, branch string) {
		a, err := cliaccounting.File(path, nil)
		require.NoError(t, err, path)
		o := ownerOf(repo, branch)
		for model, m := range a.Models {
			for _, k := range [][2]any{{w.byModel, model}, {w.byTeam, o.team}, {w.byTicket, o.ticket}} {
				mm, key := k[0].(map[string]cliaccounting.ModelTotals), k[1].(string)
				tot := mm[key]
				tot.Add(m)
				mm[key] = tot
			}
		}
	}
	for _, s := range corpus {
		add(s.path, s.repo, s.branch)
		w.sessions++
	}
	generated := map[string]bool{}
	for _, s := range corpus {
		generated[s.id] = true
	}
	for _, home := range []string{recordedHome, hookHome} {
		files, err := filepath.Glob(filepath.Join(home, "session-state", "*", "events.jsonl"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			if generated[filepath.Base(filepath.Dir(f))] {
				continue // the first laptop's generated sessions, counted above
			}
			line, err := firstLine(f)
			require.NoError(t, err)
			repo, branch := contextOf(t, line)
			add(f, repo, branch)
			if home == hookHome {
				w.hookSessions++
			} else {
				w.sessions++
			}
		}
	}
	return w
}

func firstLine(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], nil
	}
	return nil, errors.New("no line")
}

// totals is what the sink received: usage by model, team and ticket from
// unique data points (a re-send after a kill repeats points identically),
// and the budget crossings.
type totals struct {
	byModel, byTeam, byTicket            map[string]cliaccounting.ModelTotals
	points, repeatedPoints, conflicts    int
	repeatedRequests                     int               // requests all of whose points came before
	repeatedBy                           map[string]int    // repeated points by the owner that sent them
	mixedRequests                        int               // requests with new points and repeated ones
	crossings                            map[string]string // id → team@threshold
	repeatedCrossings, crossingConflicts int
}

func (g totals) equal(w want) bool {
	return sameTotals(w.byModel, g.byModel) && sameTotals(w.byTeam, g.byTeam) && sameTotals(w.byTicket, g.byTicket)
}

func readSink(t *testing.T, dir string) totals {
	g := totals{byModel: map[string]cliaccounting.ModelTotals{}, byTeam: map[string]cliaccounting.ModelTotals{}, byTicket: map[string]cliaccounting.ModelTotals{}, crossings: map[string]string{}, repeatedBy: map[string]int{}}
	seen := map[[32]byte]int64{}
	eachLine(t, filepath.Join(dir, "metrics.jsonl"), func(line []byte) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		if err != nil {
			return // a line being written
		}
		fresh, repeated := g.points, g.repeatedPoints
		defer func() {
			switch {
			case g.points == fresh && g.repeatedPoints > repeated:
				g.repeatedRequests++
			case g.points > fresh && g.repeatedPoints > repeated:
				g.mixedRequests++
			}
		}()
		for _, rm := range md.ResourceMetrics().All() {
			res, _ := json.Marshal(rm.Resource().Attributes().AsRaw())
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					switch m.Name() {
					case "copilot.api.requests", "copilot.usage.tokens", "copilot.usage.nano_aiu", "copilot.usage.premium_requests":
					default:
						continue
					}
					for _, dp := range m.Sum().DataPoints().All() {
						attrs, _ := json.Marshal(dp.Attributes().AsRaw())
						id := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%s|%d|%d", res, sm.Scope().Name(), m.Name(), attrs, dp.StartTimestamp(), dp.Timestamp()))
						v := dp.IntValue()
						if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
							v = int64(dp.DoubleValue() * 1e9)
						}
						if old, ok := seen[id]; ok {
							if old != v {
								g.conflicts++
							}
							g.repeatedPoints++
							by, _ := rm.Resource().Attributes().Get("test.owner")
							g.repeatedBy[by.Str()]++
							continue
						}
						seen[id] = v
						g.points++
						a := dp.Attributes()
						model, _ := a.Get("gen_ai.request.model")
						team, _ := a.Get("team")
						ticket, _ := a.Get("ticket")
						for _, k := range []struct {
							m   map[string]cliaccounting.ModelTotals
							key string
						}{{g.byModel, model.Str()}, {g.byTeam, team.Str()}, {g.byTicket, ticket.Str()}} {
							tot := k.m[k.key]
							switch m.Name() {
							case "copilot.api.requests":
								tot.Requests += dp.IntValue()
							case "copilot.usage.nano_aiu":
								tot.NanoAIU += dp.IntValue()
							case "copilot.usage.premium_requests":
								tot.PremiumCost += dp.DoubleValue()
							case "copilot.usage.tokens":
								tt, _ := a.Get("gen_ai.token.type")
								switch tt.Str() {
								case "input":
									tot.InputTokens += dp.IntValue()
								case "output":
									tot.OutputTokens += dp.IntValue()
								case "cache_read":
									tot.CacheReadTokens += dp.IntValue()
								case "cache_write":
									tot.CacheWriteTokens += dp.IntValue()
								case "reasoning":
									tot.ReasoningTokens += dp.IntValue()
								}
							}
							k.m[k.key] = tot
						}
					}
				}
			}
		}
	})
	contents := map[string][32]byte{}
	eachLine(t, filepath.Join(dir, "logs.jsonl"), func(line []byte) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		if err != nil {
			return
		}
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() != "copilot.budget.crossing" {
						continue
					}
					a := lr.Attributes()
					id, _ := a.Get("copilot.budget.crossing.id")
					team, _ := a.Get("team")
					th, _ := a.Get("copilot.budget.threshold")
					raw, _ := json.Marshal(a.AsRaw())
					sum := sha256.Sum256(raw)
					if old, ok := contents[id.Str()]; ok {
						if old != sum {
							g.crossingConflicts++
						}
						g.repeatedCrossings++
						continue
					}
					contents[id.Str()] = sum
					g.crossings[id.Str()] = team.Str() + "@" + th.AsString()
				}
			}
		}
	})
	return g
}

// scrapeSum sums a counter's series on a collector's own metrics endpoint.
func scrapeSum(t *testing.T, port int, name string) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Logf("scraping 127.0.0.1:%d: %v", port, err)
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err == nil {
				total += v
			}
		}
	}
	return int(total)
}

func eachLine(t *testing.T, path string, fn func([]byte)) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			fn(l)
		}
	}
}

func sameTotals(w, g map[string]cliaccounting.ModelTotals) bool {
	if len(w) != len(g) {
		return false
	}
	for k, a := range w {
		b, ok := g[k]
		d := a.PremiumCost - b.PremiumCost
		a.PremiumCost, b.PremiumCost = 0, 0
		if !ok || a != b || d > 1e-6 || d < -1e-6 {
			return false
		}
	}
	return true
}

func assertTotals(t *testing.T, by string, w, g map[string]cliaccounting.ModelTotals) {
	if sameTotals(w, g) {
		t.Logf("by %s: %d values, exact", by, len(w))
		return
	}
	keys := map[string]bool{}
	for k := range w {
		keys[k] = true
	}
	for k := range g {
		keys[k] = true
	}
	for k := range keys {
		if !sameTotals(map[string]cliaccounting.ModelTotals{k: w[k]}, map[string]cliaccounting.ModelTotals{k: g[k]}) {
			t.Errorf("by %s, %q: want %+v, got %+v", by, k, w[k], g[k])
		}
	}
}
