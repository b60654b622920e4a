// Command bench-generic compares otelcol-copilot's copilot receiver with the
// generic route a team could assemble from upstream components alone
// (filelog + json_parser, filter, transform, signaltometrics), on the same
// corpus of Copilot CLI transcripts, both exporting to a file and over
// OTLP, and checks that both exports equal the CLI's own accounting.
//
//	go run ./tools/bench-generic -size 1GB -files 14000 -rounds 5
//
// README.md in this directory says what it measures and how. Linux only (it
// reads /proc).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The routes, in the order of a round (odd rounds run them in reverse).
var allRoutes = []string{"ours-file", "generic-file", "ours-otlp", "generic-otlp", "decode", "scan"}

type flags struct {
	files                        []int
	size                         int64
	sizeText                     string
	rounds                       int
	dir                          string
	keep                         bool
	seed                         int64
	routes                       []string
	cache, manifest              string
	genericConfig, oursConfig    string
	oursLaptop, oursGateway      string
	genericBin                   string
	parseAll                     bool
	settle, idle, timeout, stall time.Duration
	keepPageCache                bool
}

func main() {
	var f flags
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-generic: run it inside the repository:", err)
		os.Exit(2)
	}
	cacheDefault := filepath.Join(userCache(), "otelcol-copilot-bench")
	here := filepath.Join(root, "tools", "bench-generic")
	files := flag.String("files", "14000", "number of sessions (files); a comma-separated list runs the whole bench once per count on the same -size and compares them")
	flag.StringVar(&f.sizeText, "size", "1GB", "corpus size in MB or GB (decimal)")
	flag.IntVar(&f.rounds, "rounds", 5, "paired rounds")
	flag.StringVar(&f.dir, "dir", "", "directory of the corpora (default: a temporary one, removed unless -keep); a corpus made with the same -files, -size and -seed is reused")
	flag.BoolVar(&f.keep, "keep", false, "keep the temporary corpus directory")
	flag.Int64Var(&f.seed, "seed", 1, "corpus seed")
	routes := flag.String("routes", strings.Join(allRoutes, ","), "routes to run, comma-separated, of "+strings.Join(allRoutes, ","))
	flag.StringVar(&f.cache, "cache", cacheDefault, "where the built collectors are kept")
	flag.StringVar(&f.manifest, "manifest", filepath.Join(here, "builder-config.yaml"), "the generic route's builder manifest")
	flag.StringVar(&f.genericConfig, "generic-config", filepath.Join(here, "generic.yaml"), "the generic route's config template")
	flag.StringVar(&f.oursConfig, "ours-config", filepath.Join(here, "ours.yaml"), "our route's config template")
	flag.StringVar(&f.oursLaptop, "ours-laptop", "", "a prebuilt cmd/otelcol-copilot (default: go build it into -cache)")
	flag.StringVar(&f.oursGateway, "ours-gateway", "", "a prebuilt cmd/otelcol-copilot-gateway (default: go build it into -cache)")
	flag.StringVar(&f.genericBin, "generic", "", "a prebuilt generic collector (default: build -manifest into -cache once)")
	prefilter := flag.Bool("generic-prefilter", false, "generic route with a filter operator before json_parser that drops every line not beginning with the usage record's type, so only usage records are parsed (cheaper than the route the issue describes, and tied to the CLI's field order)")
	flag.BoolVar(&f.keepPageCache, "keep-page-cache", false, "do not drop each collector binary from the page cache before its run (peak RSS then depends on how the binary got there; see the README)")
	flag.DurationVar(&f.settle, "settle", 5*time.Second, "wait after catching up before the idle window")
	flag.DurationVar(&f.idle, "idle", 10*time.Second, "idle window: CPU once caught up is measured over it (0: not measured)")
	flag.DurationVar(&f.timeout, "timeout", 30*time.Minute, "longest a run may take")
	flag.DurationVar(&f.stall, "stall", 2*time.Minute, "a run whose export does not change for this long has failed")
	flag.Parse()
	f.parseAll = !*prefilter
	if f.size, err = parseSize(f.sizeText); err != nil {
		fail(fmt.Errorf("-size %q: %w", f.sizeText, err))
	}
	for _, s := range strings.Split(*files, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-files %q: want positive counts", *files))
		}
		f.files = append(f.files, n)
	}
	for _, r := range strings.Split(*routes, ",") {
		if r = strings.TrimSpace(r); !slices.Contains(allRoutes, r) {
			fail(fmt.Errorf("-routes: unknown route %q (have %s)", r, strings.Join(allRoutes, ",")))
		}
		f.routes = append(f.routes, strings.TrimSpace(r))
	}
	if err := run(root, f); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-generic:", err)
	os.Exit(1)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("no go.mod")
	}
	return filepath.Dir(mod), nil
}

func userCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return d
	}
	return os.TempDir()
}

func parseSize(s string) (int64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "GB"):
		mult, s = 1e9, strings.TrimSuffix(s, "GB")
	case strings.HasSuffix(s, "MB"):
		mult, s = 1e6, strings.TrimSuffix(s, "MB")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err == nil && n <= 0 {
		err = errors.New("not positive")
	}
	return int64(n * mult), err
}

func (f flags) uses(prefix string) bool {
	return slices.ContainsFunc(f.routes, func(r string) bool { return strings.HasPrefix(r, prefix) })
}

func run(root string, f flags) error {
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		return err
	}
	// The collectors.
	bins := map[string]string{}
	if slices.Contains(f.routes, "ours-file") {
		bins["ours-file"] = f.oursGateway
		if bins["ours-file"] == "" {
			bins["ours-file"] = filepath.Join(f.cache, "otelcol-copilot-gateway")
			if err := buildOurs(root, "./cmd/otelcol-copilot-gateway", bins["ours-file"]); err != nil {
				return err
			}
		}
	}
	if slices.Contains(f.routes, "ours-otlp") {
		bins["ours-otlp"] = f.oursLaptop
		if bins["ours-otlp"] == "" {
			bins["ours-otlp"] = filepath.Join(f.cache, "otelcol-copilot")
			if err := buildOurs(root, "./cmd/otelcol-copilot", bins["ours-otlp"]); err != nil {
				return err
			}
		}
	}
	if f.uses("generic") {
		bin := f.genericBin
		if bin == "" {
			var err error
			if bin, err = buildGeneric(root, f.manifest, f.cache); err != nil {
				return err
			}
		}
		bins["generic-file"], bins["generic-otlp"] = bin, bin
	}

	dir := f.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-generic-")
		if err != nil {
			return err
		}
		if !f.keep {
			defer os.RemoveAll(d)
		}
		dir = d
	}
	var sink *sink
	if slices.Contains(f.routes, "ours-otlp") || slices.Contains(f.routes, "generic-otlp") {
		var err error
		if sink, err = startSink(); err != nil {
			return err
		}
		defer sink.stop()
	}
	var scale []countResult
	for _, files := range f.files {
		start := time.Now()
		c, err := loadOrMakeCorpus(filepath.Join(dir, fmt.Sprintf("%d-files-%s", files, f.sizeText), "session-state"), files, f.size, f.seed)
		if err != nil {
			return err
		}
		fmt.Printf("corpus: %d sessions, %.1f MB, %d events, %d usage records, in %s (%v)\n",
			len(c.Paths), float64(c.Bytes)/1e6, c.Events, c.UsageRecords, c.Dir, time.Since(start).Round(time.Millisecond))
		fmt.Printf("the transcripts' own accounting (cliaccounting), by model:\n%s", formatTotals(c.Want))
		res, err := rounds(c, f, bins, sink)
		if err != nil {
			return err
		}
		printTable(os.Stdout, c, f, res)
		scale = append(scale, countResult{files: files, bytes: c.Bytes, res: res})
	}
	if len(scale) > 1 {
		printScale(os.Stdout, f.routes, scale)
	}
	return nil
}

// rounds runs the routes f.rounds times, in alternating order.
func rounds(c *corpus, f flags, bins map[string]string, sink *sink) (map[string][]result, error) {
	res := map[string][]result{}
	o := runOpts{settle: f.settle, idle: f.idle, timeout: f.timeout, stall: f.stall, coldBinary: !f.keepPageCache}
	for round := 0; round < f.rounds; round++ {
		order := slices.Clone(f.routes)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, route := range order {
			r, err := runRoute(route, c, bins[route], f, o, sink)
			if err != nil {
				return nil, fmt.Errorf("round %d: %w", round+1, err)
			}
			fmt.Printf("round %d %-13s %6.2f CPU-s %7.1f MB/CPU-s  wall %6.2f s  peak RSS %s (anonymous %s, file-backed %s)  caught up %s\n",
				round+1, route, r.CPU.Seconds(), mbPerCPU(c.Bytes, r.CPU), r.Wall.Seconds(), mb(r.PeakRSS), mb(r.PeakAnon), mb(r.FileRSS), pct(r.Idle))
			res[route] = append(res[route], r)
		}
	}
	return res, nil
}

func runRoute(route string, c *corpus, bin string, f flags, o runOpts, sink *sink) (res result, err error) {
	if err := warm(c.Paths); err != nil {
		return result{}, err
	}
	switch route {
	case "scan":
		return lineScan(c.Paths)
	case "decode":
		return decodeAll(c.Paths, c.Events)
	}
	work, err := os.MkdirTemp("", "bench-generic-run-")
	if err != nil {
		return result{}, err
	}
	defer func() {
		// A failed run's config, log and export stay for a look.
		if err == nil {
			os.RemoveAll(work)
		}
	}()
	data := configData{Glob: c.glob(), StateDir: filepath.Join(work, "state"), ParseAll: f.parseAll}
	var src collector
	if strings.HasSuffix(route, "-file") {
		data.Exporter, data.OutFile = "file", filepath.Join(work, "metrics.jsonl")
		ft := newFileTail(data.OutFile)
		defer ft.Close()
		src = ft
	} else {
		sink.reset()
		data.Exporter, data.OTLPEndpoint = "otlp_grpc", sink.addr
		src = sink
	}
	tmpl := f.oursConfig
	if strings.HasPrefix(route, "generic") {
		tmpl = f.genericConfig
	}
	return runCollector(route, bin, tmpl, data, src, c.Want, work, o)
}
