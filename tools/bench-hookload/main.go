// Command bench-hookload measures the hook endpoint of whole otelcol-copilot
// collector processes under load: payloads per second on one connection,
// and on many concurrent connections, each a forwarder posting the payloads
// of its own sessions in order, across many sessions; and the collector's
// CPU time per 10,000 payloads (from /proc/<pid>/stat, so Linux only).
//
// It compares two binaries, before and after a change, in interleaved
// rounds (before, after, before, after, ...), each round a fresh collector
// with fresh storage, and prints every round and the medians: on a shared
// machine, the rounds of both binaries see the same neighbours.
//
//	git -C . archive main | (mkdir -p /tmp/base && tar -x -C /tmp/base)
//	(cd /tmp/base && go build -o /tmp/otelcol-copilot-main ./cmd/otelcol-copilot)
//	go build -o bin/otelcol-copilot ./cmd/otelcol-copilot
//	go run ./tools/bench-hookload -before /tmp/otelcol-copilot-main -after bin/otelcol-copilot
//
// With -replicas 1,2,3 it measures one binary as a tier of that many
// replicas with hooks::peers (docs/fleet.md, Capacity) instead.
//
// The payloads are the real ones recorded with Copilot CLI 1.0.102 (
// testdata/copilot-cli/1.0.102/hooks), each given a session of its own
// among -sessions and the cumulative usage object the forwarder adds, and
// posted with the forwarder's headers (X-Copilot-Hook-Client,
// X-Copilot-Hook-Id, X-Copilot-Hook-Host). The collector counts sessions
// from their hooks (accounting: hooks, as a central collector does) and
// keeps its state in file_storage. By default (-exporter debug) it sends
// every signal to a debug exporter whose output the log level drops: what
// is measured is the receiver and its HTTP server. -exporter queue sends
// as examples/central-hooks.yaml does (otlp_http, sending_queue in
// file_storage), -exporter direct as the other examples (otlp_http without
// a queue: the receiver waits for the export), both to a stand-in gateway
// in this process that answers after -gateway-latency. The load generator
// runs on the same machine and its own CPU time is printed too.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/procstat"
)

func main() {
	var (
		before   = flag.String("before", "", "the collector binary before the change (required)")
		after    = flag.String("after", "", "the collector binary after the change (required)")
		rounds   = flag.Int("rounds", 5, "rounds per binary, interleaved")
		sessions = flag.Int("sessions", 1000, "sessions the payloads are spread over")
		conns    = flag.Int("conns", 32, "concurrent connections of the parallel phase")
		warmup   = flag.Int("warmup", 64, "payloads per session before the measured phases, so that sessions are as they are after a while (more than the 32 payloads a session keeps as delivered)")
		serial   = flag.Int("serial", 4000, "payloads posted on one connection per round")
		parallel = flag.Int("parallel", 16000, "payloads posted on -conns connections per round")
		testdata = flag.String("testdata", "testdata/copilot-cli/1.0.102/hooks", "recorded hook payloads, one <hookType>.jsonl per type")
		rate     = flag.Float64("rate", 0.1, "hooks per developer per second during work, for the fleet size")
		headroom = flag.Float64("headroom", 0.5, "share of the gateway's CPU the hooks may use, for the fleet size")
		cores    = flag.Float64("cores", 2, "cores of the gateway, for the fleet size")
		exporter = flag.String("exporter", "debug", "where the collector sends: debug (a debug exporter that logs nothing: the receiver alone), queue (otlp_http with a sending_queue in file_storage, as examples/central-hooks.yaml, to a stand-in gateway), direct (otlp_http without a queue, as the other examples, to the stand-in gateway, which answers after -gateway-latency)")
		latency  = flag.Duration("gateway-latency", 0, "how long the stand-in gateway takes to answer each export")
		replicas = flag.String("replicas", "", "instead of -before against -after: run -after as a tier of this many replicas with hooks::peers, each count in turn (e.g. 1,2,3), the load spread over them round robin as a load balancer without affinity would")
	)
	flag.Parse()
	if *replicas != "" {
		if *after == "" {
			fmt.Fprintln(os.Stderr, "bench-hookload: -replicas measures the -after binary")
			os.Exit(2)
		}
		var ns []int
		for _, f := range strings.Split(*replicas, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fail(fmt.Errorf("-replicas: %q is not a list of counts like 1,2,3", *replicas))
			}
			ns = append(ns, n)
		}
		*before = ""
		tier(ns, *after, *rounds, *sessions, *conns, *warmup, *serial, *parallel, *testdata, *exporter, *latency)
		return
	}
	if *before == "" || *after == "" {
		fmt.Fprintln(os.Stderr, "bench-hookload: -before and -after name the two collector binaries; see go doc ./tools/bench-hookload")
		os.Exit(2)
	}
	// Ctrl-C stops the collector of the round too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	recorded, err := readRecorded(*testdata)
	if err != nil {
		fail(err)
	}
	exporters, ok := exporterConfigs[*exporter]
	if !ok {
		fail(fmt.Errorf("-exporter %q is not debug, queue or direct", *exporter))
	}
	if *exporter != "debug" {
		gw, err := startGateway(*latency)
		if err != nil {
			fail(err)
		}
		exporters = fmt.Sprintf(exporters, gw)
	}
	bins := []struct{ name, path string }{{"before", *before}, {"after", *after}}
	results := map[string][]result{}
	for r := range *rounds {
		for _, b := range bins {
			res, err := runRound(ctx, b.path, exporters, recorded, *sessions, *conns, *warmup, *serial, *parallel)
			if err != nil {
				fail(fmt.Errorf("%s round %d: %w", b.name, r+1, err))
			}
			results[b.name] = append(results[b.name], res)
			fmt.Printf("round %d %-6s  1 conn: %7.0f payloads/s %5.2f CPU-s/10k   %d conns: %7.0f payloads/s %5.2f CPU-s/10k   (503s: %d, %d; load generator %.2f CPU-s)\n",
				r+1, b.name, res.serial.rate(), res.serial.cpuPer10k(), *conns, res.parallel.rate(), res.parallel.cpuPer10k(), res.serial.refused, res.parallel.refused, res.clientCPU.Seconds())
		}
	}
	fmt.Printf("\nexporter %s (gateway latency %v); medians of %d interleaved rounds, %d sessions (%d payloads each before), %d payloads on 1 connection and %d on %d connections per round:\n", *exporter, *latency, *rounds, *sessions, *warmup, *serial, *parallel, *conns)
	fmt.Printf("%-6s  %14s %14s  %14s %14s\n", "", "1 conn /s", "CPU-s/10k", fmt.Sprintf("%d conns /s", *conns), "CPU-s/10k")
	for _, b := range bins {
		rs := results[b.name]
		fmt.Printf("%-6s  %14.0f %14.2f  %14.0f %14.2f\n", b.name,
			median(rs, func(r result) float64 { return r.serial.rate() }),
			median(rs, func(r result) float64 { return r.serial.cpuPer10k() }),
			median(rs, func(r result) float64 { return r.parallel.rate() }),
			median(rs, func(r result) float64 { return r.parallel.cpuPer10k() }))
	}
	// The fleet one gateway serves: from the CPU time per payload of the
	// parallel phase, at the given share of its cores.
	for _, b := range bins {
		cpu := median(results[b.name], func(r result) float64 { return r.parallel.cpuPer10k() }) / 10000
		perSec := *cores * *headroom / cpu
		fmt.Printf("%-6s  a %.0f-core gateway at %.0f%% CPU takes %.0f payloads/s: %.0f developers at %g hooks/s each\n",
			b.name, *cores, 100**headroom, perSec, perSec / *rate, *rate)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-hookload:", err)
	os.Exit(1)
}

// recordedPayload is one payload the CLI wrote to a hook's stdin.
type recordedPayload struct {
	typ  string
	body map[string]json.RawMessage
}

func readRecorded(dir string) ([]recordedPayload, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("-testdata %s: no <hookType>.jsonl files (run from the repository root)", dir)
	}
	var out []recordedPayload
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		typ := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, recordedPayload{typ: typ, body: m})
		}
	}
	// Spread the types: a session gets them in a steady mix.
	sort.SliceStable(out, func(i, j int) bool { return string(out[i].body["timestamp"]) < string(out[j].body["timestamp"]) })
	return out, nil
}

// phase is one phase of a round.
type phase struct {
	n       int
	wall    time.Duration
	cpu     time.Duration // of the collector
	refused int64         // 503 answers, each posted again
}

func (p phase) rate() float64      { return float64(p.n) / p.wall.Seconds() }
func (p phase) cpuPer10k() float64 { return p.cpu.Seconds() * 10000 / float64(p.n) }

type result struct {
	serial, parallel phase
	clientCPU        time.Duration
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// loader makes and posts the payloads of one collector run: the payload
// types in turn, each session's usage growing with each of its payloads.
type loader struct {
	urls     []string // the replicas, in turn
	turn     atomic.Uint64
	recorded []recordedPayload
	client   *http.Client
	seq      []atomic.Int64 // payloads sent per session
	next     atomic.Int64   // numbers the payloads (their ids)
	refused  atomic.Int64   // 503 answers
}

func (l *loader) body(session int) (string, int64, []byte) {
	k := l.seq[session].Add(1)
	n := l.next.Add(1)
	rp := l.recorded[int(n)%len(l.recorded)]
	m := make(map[string]json.RawMessage, len(rp.body)+1)
	for key, v := range rp.body {
		m[key] = v
	}
	sid := fmt.Sprintf("%08d-0000-4000-8000-%012d", session, session)
	m["sessionId"] = json.RawMessage(strconv.Quote(sid))
	if _, ok := m["agentId"]; ok {
		m["agentId"] = json.RawMessage(strconv.Quote(sid)) // its own subagent
	}
	delete(m, "transcriptPath")
	delete(m, "parentAgentId")
	m["timestamp"] = json.RawMessage(strconv.FormatInt(1795363646917+k*1000, 10))
	// The usage object the forwarder adds: cumulative, as the CLI counts.
	m["usage"] = json.RawMessage(fmt.Sprintf(`{"totalPremiumRequestCost":%d,"totalNanoAiu":%d,"totalUserRequests":%d,"totalApiDurationMs":%d,`+
		`"tokenDetails":{"input":%d,"output":%d,"cacheRead":%d,"cacheWrite":0,"reasoning":0},`+
		`"modelMetrics":{"claude-sonnet-4.5":{"requests":{"count":%d,"userInitiated":%d,"premiumCost":%d},"usage":{"inputTokens":%d,"outputTokens":%d,"cacheReadTokens":%d,"cacheWriteTokens":0,"reasoningTokens":0},"totalNanoAiu":%d}},`+
		`"codeChanges":{"linesAdded":%d,"linesRemoved":%d,"filesModified":%d}}`,
		k, k*4000000, k, k*2100, k*9000, k*300, k*60000,
		k, k, k, k*9000, k*300, k*60000, k*4000000,
		k*3, k, (k+9)/10))
	b, _ := json.Marshal(m)
	return rp.typ, k, b
}

// post sends the next payload of a session, and again, as the forwarder
// would from its spool, while the collector answers 503 (its pipeline is
// full: backpressure, counted in refused).
func (l *loader) post(ctx context.Context, session int) error {
	typ, k, body := l.body(session)
	for {
		url := l.urls[int(l.turn.Add(1)%uint64(len(l.urls)))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/hooks/"+typ, bytes.NewReader(body))
		if err != nil {
			return err
		}
		// The headers the forwarder sends (internal/forwarder/client.go).
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Copilot-Hook-Client", "otelcol-copilot-hook")
		req.Header.Set("X-Copilot-Hook-Id", fmt.Sprintf("bench-%d-%d", session, k))
		req.Header.Set("X-Copilot-Hook-Host", fmt.Sprintf("dev-%d", session%200))
		req.Header.Set("User-Agent", "otelcol-copilot-hook/bench")
		resp, err := l.client.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			l.refused.Add(1)
			time.Sleep(20 * time.Millisecond) // not Retry-After: keep the load on
			continue
		case resp.StatusCode == http.StatusAccepted && (bytes.Contains(b, []byte(`"accepted"`)) || bytes.Contains(b, []byte(`"ignored"`)) || bytes.Contains(b, []byte(`"duplicate"`))):
			return nil
		}
		return fmt.Errorf("%s payload of session %d answered %d %s", typ, session, resp.StatusCode, bytes.TrimSpace(b))
	}
}

// run posts n payloads on conns connections; connection c posts for the
// sessions s with s%conns == c, one after another, as one forwarder posts
// its sessions' payloads in order.
func (l *loader) run(pids []int, sessions, conns, n int) (phase, error) {
	cpu0, err := procstat.ProcsCPU(pids)
	if err != nil {
		return phase{}, err
	}
	start := time.Now()
	refused0 := l.refused.Load()
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	per := n / conns
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := []int{}
			for s := c; s < sessions; s += conns {
				mine = append(mine, s)
			}
			for i := range per {
				if err := l.post(context.Background(), mine[i%len(mine)]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := procstat.ProcsCPU(pids)
	if err != nil {
		return phase{}, err
	}
	return phase{n: per * conns, wall: wall, cpu: cpu1 - cpu0, refused: l.refused.Load() - refused0}, firstErr
}

func runRound(ctx context.Context, bin, exporters string, recorded []recordedPayload, sessions, conns, warmup, serial, parallel int) (result, error) {
	return runTier(ctx, bin, exporters, 1, recorded, sessions, conns, warmup, serial, parallel)
}

// runTier runs replicas collectors of bin as one hook endpoint tier
// (hooks::peers when more than one) and the load against them, each
// request to the next replica in turn.
func runTier(ctx context.Context, bin, exporters string, replicas int, recorded []recordedPayload, sessions, conns, warmup, serial, parallel int) (result, error) {
	work, err := os.MkdirTemp("", "bench-hookload-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(work)
	if err := os.MkdirAll(filepath.Join(work, "session-state"), 0o755); err != nil {
		return result{}, err
	}
	ports := make([]int, replicas)
	var urls []string
	for i := range ports {
		if ports[i], err = procstat.FreePort(); err != nil {
			return result{}, err
		}
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", ports[i]))
	}
	var pids []int
	var logs bytes.Buffer
	for i := range replicas {
		peers := ""
		if replicas > 1 {
			peers = fmt.Sprintf("\n      peers:\n        self: %s\n        endpoints: [%s]", urls[i], strings.Join(urls, ", "))
		}
		cfgPath := filepath.Join(work, fmt.Sprintf("config-%d.yaml", i))
		cfg := fmt.Sprintf(benchConfig, filepath.Join(work, "session-state", "*", "events.jsonl"), filepath.Join(work, fmt.Sprintf("state-%d", i)), ports[i], exporters, strings.TrimSpace(strings.SplitN(exporters, ":", 2)[0]), peers)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return result{}, err
		}
		cmd := exec.CommandContext(ctx, bin, "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
		pids = append(pids, cmd.Process.Pid)
	}
	for _, url := range urls {
		if err := waitHealthy(url, &logs); err != nil {
			return result{}, err
		}
	}
	l := &loader{
		urls: urls, recorded: recorded, seq: make([]atomic.Int64, sessions),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}},
	}
	self0 := procstat.SelfCPU()
	// Warm up: every session -warmup times, so that both phases find them
	// known and as they are after a while.
	if _, err := l.run(pids, sessions, conns, max(1, warmup)*sessions); err != nil {
		return result{}, fmt.Errorf("warm-up: %w\n%s", err, tail(&logs))
	}
	var res result
	if res.serial, err = l.run(pids, sessions, 1, serial); err != nil {
		return result{}, fmt.Errorf("1 connection: %w\n%s", err, tail(&logs))
	}
	if res.parallel, err = l.run(pids, sessions, conns, parallel); err != nil {
		return result{}, fmt.Errorf("%d connections: %w\n%s", conns, err, tail(&logs))
	}
	res.clientCPU = procstat.SelfCPU() - self0
	return res, nil
}

// tier measures the tier of each replica count, in interleaved rounds.
func tier(counts []int, bin string, rounds, sessions, conns, warmup, serial, parallel int, testdata, exporter string, latency time.Duration) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	recorded, err := readRecorded(testdata)
	if err != nil {
		fail(err)
	}
	exporters, ok := exporterConfigs[exporter]
	if !ok {
		fail(fmt.Errorf("-exporter %q is not debug, queue or direct", exporter))
	}
	if exporter != "debug" {
		gw, err := startGateway(latency)
		if err != nil {
			fail(err)
		}
		exporters = fmt.Sprintf(exporters, gw)
	}
	results := map[int][]result{}
	for r := range rounds {
		for _, n := range counts {
			res, err := runTier(ctx, bin, exporters, n, recorded, sessions, conns, warmup, serial, parallel)
			if err != nil {
				fail(fmt.Errorf("%d replicas, round %d: %w", n, r+1, err))
			}
			results[n] = append(results[n], res)
			fmt.Printf("round %d %d replicas  1 conn: %7.0f payloads/s %5.2f CPU-s/10k   %d conns: %7.0f payloads/s %5.2f CPU-s/10k   (503s: %d, %d)\n",
				r+1, n, res.serial.rate(), res.serial.cpuPer10k(), conns, res.parallel.rate(), res.parallel.cpuPer10k(), res.serial.refused, res.parallel.refused)
		}
	}
	fmt.Printf("\nexporter %s; medians of %d interleaved rounds, %d sessions, the load spread round robin over the replicas (CPU of all replicas):\n", exporter, rounds, sessions)
	fmt.Printf("%-10s  %14s %14s  %14s %14s\n", "replicas", "1 conn /s", "CPU-s/10k", fmt.Sprintf("%d conns /s", conns), "CPU-s/10k")
	for _, n := range counts {
		rs := results[n]
		fmt.Printf("%-10d  %14.0f %14.2f  %14.0f %14.2f\n", n,
			median(rs, func(r result) float64 { return r.serial.rate() }),
			median(rs, func(r result) float64 { return r.serial.cpuPer10k() }),
			median(rs, func(r result) float64 { return r.parallel.rate() }),
			median(rs, func(r result) float64 { return r.parallel.cpuPer10k() }))
	}
}

// tail is the end of the collector's output, for an error.
func tail(logs *bytes.Buffer) string {
	b := logs.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func waitHealthy(url string, logs *bytes.Buffer) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/v1/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the collector's hook endpoint did not answer within 60s:\n" + logs.String())
}

// benchConfig is a central collector counting sessions from their hooks,
// with its state in file_storage, every signal to the one exporter of
// exporterConfigs.
const benchConfig = `
extensions:
  file_storage:
    directory: %[2]q
    create_directory: true
receivers:
  copilot:
    session_state:
      include: [%[1]q]
      storage: file_storage
    hooks:
      endpoint: 127.0.0.1:%[3]d
      accounting: hooks
      usage_query: false%[6]s
exporters:
%[4]s
service:
  extensions: [file_storage]
  pipelines:
    metrics: {receivers: [copilot], exporters: [%[5]s]}
    traces: {receivers: [copilot], exporters: [%[5]s]}
    logs: {receivers: [copilot], exporters: [%[5]s]}
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
`

// exporterConfigs are the exporters of -exporter, each the only key; %s is
// the stand-in gateway's URL.
var exporterConfigs = map[string]string{
	// Logs nothing at level warn: what is measured is the receiver.
	"debug": `  debug/out:
    verbosity: basic`,
	// As examples/central-hooks.yaml.
	"queue": `  otlp_http/out:
    endpoint: %s
    sending_queue:
      storage: file_storage
      batch:
        flush_timeout: 1s
    retry_on_failure:
      max_elapsed_time: 0`,
	// As the other examples: the receiver waits for the gateway's answer.
	"direct": `  otlp_http/out:
    endpoint: %s
    sending_queue:
      enabled: false`,
}

// startGateway serves a stand-in OTLP/HTTP gateway that takes every export
// after latency.
func startGateway(latency time.Duration) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty Export*ServiceResponse
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}
