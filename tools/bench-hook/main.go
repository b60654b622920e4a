// Command bench-hook measures what a Copilot CLI hook costs the developer:
// the time from starting the hook process to its exit, over many runs, for
//
//   - otelcol-copilot-hook forward with the collector up (a loopback server
//     answering 202, as the copilot receiver does), with the session's
//     transcript present (steady state: usage from the warm cache), with
//     --no-usage, and for a 64 MB session whose transcript grows by one
//     event before each run;
//   - the same in a Copilot home with a session store (session-store.db,
//     the real store of internal/sessionstore/testdata grown with
//     -store-rows rows of other sessions): the session's store ahead of
//     its transcript (usage from the store), and level with it (the store
//     read, the transcript's usage taken);
//   - the same with the collector down (nothing listening: the payload is
//     spooled);
//   - curl posting the same payload (when curl is installed), the least a
//     command hook can cost;
//   - the startup of each binary: otelcol-copilot-hook version against
//     otelcol-copilot --version, the two ways to ship the hook command.
//
// The variants run in turns (one run of each, then the next round), so
// that the load of a shared machine falls on all of them alike. It builds
// both binaries unless given, and prints a table.
//
//	go run ./tools/bench-hook -runs 200
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// The store's session (four calls, two of them a subagent's), and a copy
// of its whole transcript under another id whose rows are added to the
// store too (level).
const (
	storeSession = "484fbd51-1aaf-45c3-b3ff-ae6ec8e80c30"
	levelSession = "00000000-0000-0000-0000-0000000000cc"
)

func main() {
	var (
		runs      = flag.Int("runs", 200, "runs per variant")
		warmup    = flag.Int("warmup", 10, "uncounted runs before each variant")
		hookBin   = flag.String("hook", "", "otelcol-copilot-hook binary (default: built from ./cmd/otelcol-copilot-hook)")
		collector = flag.String("collector", "", "otelcol-copilot binary (default: built from ./cmd/otelcol-copilot; none: leave its startup out)")
		testdata  = flag.String("testdata", "testdata/copilot-cli/1.0.102", "a Copilot home with session-state/ and hooks/")
		session   = flag.String("session", "a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2", "session of the payload (its transcript is read for the usage)")
		keep      = flag.Bool("keep", false, "keep the work directory")
		endpoint  = flag.String("endpoint", "", "a running collector's hook endpoint for the 'collector up' cases (default: a loopback stub answering 202)")
		storeDir  = flag.String("store-testdata", "internal/sessionstore/testdata/1.0.102", "a Copilot home with a session-store.db and the transcripts of its sessions")
		storeRows = flag.Int("store-rows", 20000, "rows of other sessions added to the session store")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench-hook: ")

	work, err := os.MkdirTemp("", "bench-hook-")
	if err != nil {
		log.Fatal(err)
	}
	if *keep {
		log.Printf("work directory %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	if *hookBin == "" {
		*hookBin = filepath.Join(work, "otelcol-copilot-hook")
		build(*hookBin, "./cmd/otelcol-copilot-hook")
	}
	if *collector == "" {
		*collector = filepath.Join(work, "otelcol-copilot")
		build(*collector, "./cmd/otelcol-copilot")
	}

	// A Copilot home of our own, with the session's transcript.
	home := filepath.Join(work, "copilot-home")
	src := filepath.Join(*testdata, "session-state", *session, "events.jsonl")
	dst := filepath.Join(home, "session-state", *session, "events.jsonl")
	if err := copyFile(src, dst); err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"sessionId":"` + *session + `","timestamp":1795363650000,"cwd":"/home/dev/src/payments-api","toolName":"bash","toolArgs":{"command":"go test ./...","description":"run the tests"},"toolResult":{"resultType":"success","textResultForLlm":"ok  \tgithub.com/acme/payments-api\t0.412s"}}`)
	payloadFile := filepath.Join(work, "payload.json")
	if err := os.WriteFile(payloadFile, body, 0o644); err != nil {
		log.Fatal(err)
	}

	// A big session: a generated transcript of about 64 MB with subagents,
	// to which each run appends an event before it starts (a hook then
	// restores the session's state, reads the new line and saves it).
	bigID := "00000000-0000-0000-0000-0000000000bb"
	bigPath := filepath.Join(home, "session-state", bigID, "events.jsonl")
	if err := generate(bigPath, bigID); err != nil {
		log.Fatal(err)
	}
	bigBody := []byte(`{"sessionId":"` + bigID + `","timestamp":1795363650000,"cwd":"/home/dev/src/payments-api","toolName":"bash"}`)
	appendEvent := func() {
		fh, err := os.OpenFile(bigPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			log.Fatal(err)
		}
		defer fh.Close()
		line := `{"type":"assistant.turn_start","data":{"turnId":"1","interactionId":"i"},"id":"` + fmt.Sprint(time.Now().UnixNano()) + `","timestamp":"2026-11-22T16:07:40.000Z","parentId":null}` + "\n"
		if _, err := fh.WriteString(line); err != nil {
			log.Fatal(err)
		}
	}

	// A Copilot home with a session store: the session's transcript has
	// its first call, the store all four (ahead), or the transcript all
	// four too (level).
	storeHome := filepath.Join(work, "copilot-home-store")
	storeRowsTotal, err := makeStore(filepath.Join(*storeDir, sessionstore.FileName), sessionstore.Path(storeHome), *storeRows)
	if err != nil {
		log.Fatal(err)
	}
	storeTranscript := filepath.Join(*storeDir, "session-state", storeSession, "events.jsonl")
	if err := copyLines(storeTranscript, filepath.Join(storeHome, "session-state", storeSession, "events.jsonl"), 14); err != nil {
		log.Fatal(err)
	}
	if err := copyFile(storeTranscript, filepath.Join(storeHome, "session-state", levelSession, "events.jsonl")); err != nil {
		log.Fatal(err)
	}
	storeBody := []byte(`{"sessionId":"` + storeSession + `","timestamp":1796651886000,"cwd":"/home/dev/src/payments-api","toolName":"bash","toolArgs":{"command":"go test ./...","description":"run the tests"},"toolResult":{"resultType":"success","textResultForLlm":"ok  \tgithub.com/acme/payments-api\t0.412s"}}`)
	levelBody := bytes.Replace(storeBody, []byte(storeSession), []byte(levelSession), 1)

	up, stop := serve()
	defer stop()
	if *endpoint != "" {
		up = *endpoint
	}
	down := deadEndpoint()

	envIn := func(home, state string) []string {
		return append(os.Environ(), "OTELCOL_COPILOT_STATE_DIR="+filepath.Join(work, state), "COPILOT_HOME="+home,
			"OTELCOL_COPILOT_ENDPOINT=", "OTELCOL_COPILOT_TOKEN=", "OTELCOL_COPILOT_TOKEN_FILE=", "OTELCOL_COPILOT_SPOOL_DIR=")
	}
	env := func(state string) []string { return envIn(home, state) }
	type variant struct {
		name string
		args []string
		env  []string
		// stdin: the payload, or nothing
		stdin []byte
		// before runs before each run, outside the time measured
		before func()
		// failing runs are expected (curl cannot connect)
		mayFail bool
	}
	variants := []variant{
		{"otelcol-copilot-hook forward, collector up (usage from cache)", []string{*hookBin, "forward", "postToolUse", "--endpoint", up}, env("up"), body, nil, false},
		{"otelcol-copilot-hook forward --no-usage, collector up", []string{*hookBin, "forward", "postToolUse", "--endpoint", up, "--no-usage"}, env("up-nousage"), body, nil, false},
		{"otelcol-copilot-hook forward, collector up, 64 MB session grown", []string{*hookBin, "forward", "postToolUse", "--endpoint", up}, env("big"), bigBody, appendEvent, false},
		{"otelcol-copilot-hook forward, collector down (spooled)", []string{*hookBin, "forward", "postToolUse", "--endpoint", down}, env("down"), body, nil, false},
		{"forward, collector up, store ahead of transcript (from store)", []string{*hookBin, "forward", "postToolUse", "--endpoint", up}, envIn(storeHome, "store-ahead"), storeBody, nil, false},
		{"forward, collector up, store level with transcript", []string{*hookBin, "forward", "postToolUse", "--endpoint", up}, envIn(storeHome, "store-level"), levelBody, nil, false},
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		for _, c := range []struct{ name, url string }{{"curl POST, collector up", up}, {"curl POST, collector down", down}} {
			variants = append(variants, variant{c.name,
				[]string{curl, "-s", "--fail", "-o", "/dev/null", "--max-time", "1", "-H", "Content-Type: application/json", "-H", "X-Copilot-Hook-Client: curl", "--data-binary", "@-", c.url + "/v1/hooks/postToolUse"}, env("curl"), body, nil, c.url == down})
		}
	} else {
		log.Printf("curl not found: skipping the curl variant")
	}
	variants = append(variants, variant{"startup: otelcol-copilot-hook version", []string{*hookBin, "version"}, env("v"), nil, nil, false})
	if *collector != "none" {
		variants = append(variants, variant{"startup: otelcol-copilot --version", []string{*collector, "--version"}, env("v"), nil, nil, false})
	}

	fmt.Printf("bench-hook: %d runs per variant (after %d warm-up runs), %s/%s, %d CPUs, %s\n",
		*runs, *warmup, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("binaries: otelcol-copilot-hook %s, otelcol-copilot %s\n", sizeOf(*hookBin), sizeOf(*collector))
	fmt.Printf("payload: %d bytes; transcripts: %s (%s), %s (%s)\n", len(body), *session, sizeOf(dst), bigID, sizeOf(bigPath))
	fmt.Printf("session store: %s, %d rows\n\n", sizeOf(sessionstore.Path(storeHome)), storeRowsTotal)
	fmt.Printf("%-62s %6s %8s %8s %8s %8s %8s\n", "variant", "runs", "min ms", "p50 ms", "p90 ms", "p99 ms", "max ms")
	times := make([][]time.Duration, len(variants))
	for i := 0; i < *warmup+*runs; i++ {
		for k, v := range variants {
			if v.before != nil {
				v.before()
			}
			t, err := once(v.args, v.env, v.stdin)
			if err != nil && !v.mayFail {
				log.Fatalf("%s: %v", v.name, err)
			}
			if i >= *warmup {
				times[k] = append(times[k], t)
			}
		}
	}
	for k, v := range variants {
		d := times[k]
		slices.Sort(d)
		fmt.Printf("%-62s %6d %8.2f %8.2f %8.2f %8.2f %8.2f\n", v.name, len(d), ms(d[0]), ms(pct(d, 50)), ms(pct(d, 90)), ms(pct(d, 99)), ms(d[len(d)-1]))
	}
	if err := checkSources(work); err != nil {
		log.Fatal(err)
	}
	spooled, _ := filepath.Glob(filepath.Join(work, "down", "spool", "*.hook"))
	fmt.Printf("\nspooled while the collector was down: %d payloads\n", len(spooled))
}

func once(args, env []string, stdin []byte) (time.Duration, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%v: %s", err, out.String())
	}
	if strings.HasSuffix(args[0], "otelcol-copilot-hook") && len(args) > 1 && args[1] == "forward" && out.Len() > 0 {
		return d, fmt.Errorf("forward wrote output: %q", out.String())
	}
	return d, nil
}

// serve answers hook payloads like the copilot receiver: 202 accepted, or
// 403 for a POST without the headers it requires of every sender.
func serve() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost && (r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Copilot-Hook-Client") == "") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"send Content-Type: application/json and X-Copilot-Hook-Client"}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
}

// deadEndpoint is a loopback address where nothing listens.
func deadEndpoint() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func build(out, pkg string) {
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("go build -o %s %s: %v", out, pkg, err)
	}
	log.Printf("built %s in %s", pkg, time.Since(start).Round(time.Millisecond))
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// generate writes a transcript of about 64 MB.
func generate(path, id string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 7, SessionID: id, Interactions: 450, ToolOutputKB: 16, Billed: true, Subagents: true})
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sizeOf(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	if st.Size() < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(st.Size())/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
}
