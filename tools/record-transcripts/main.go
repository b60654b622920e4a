// Command record-transcripts records real GitHub Copilot CLI session
// transcripts for tests. It runs several installed versions of the CLI
// (npm package @github/copilot) fully offline, in bring-your-own-key mode
// against the scripted OpenAI-compatible server of internal/testsupport/fakeprovider on
// 127.0.0.1, and copies each session's events.jsonl and workspace.yaml into
// <out>/<case>/session-state/<sessionId>/. The only change made to what the
// CLI wrote is that the system prompt text of system.message events is
// replaced by "[system prompt omitted: N characters]". It then writes
// <out>/MANIFEST.md from the recorded files.
//
//	go run ./tools/record-transcripts -cli-dir /path/to/cli -out testdata/copilot-cli/recorded -home /home/dev
//
// With -stores it records the cases of storePlan into
// testdata/copilot-cli/stores instead. Every case also keeps the session
// store the CLI left ($COPILOT_HOME/session-store.db, when the version
// writes one) as <out>/<case>/session-store.db, its WAL checkpointed into
// the file (see copyStore; needs the sqlite3 shell).
//
// where <cli-dir>/<version>/node_modules/.bin/copilot is each CLI version
// (cd <cli-dir>/<version> && npm install @github/copilot@<version>).
//
// -check reads every recorded events.jsonl with internal/transcript and
// reports lines it could not read; -manifest only rewrites MANIFEST.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	var (
		cliDir   = flag.String("cli-dir", "", "directory holding <version>/node_modules/.bin/copilot")
		cacheDir = flag.String("cache-dir", "", "COPILOT_CACHE_HOME shared by all runs (default <cli-dir>/cache)")
		out      = flag.String("out", "testdata/copilot-cli/recorded", "output directory")
		home     = flag.String("home", "/home/dev", "HOME the CLI runs with (created if missing; its .copilot and src/payments-api are replaced)")
		only     = flag.String("only", "", "comma-separated case names to record (default: all)")
		timeout  = flag.Duration("timeout", 3*time.Minute, "time limit of one CLI run")
		list     = flag.Bool("list", false, "list the cases and exit")
		check    = flag.Bool("check", false, "only read the recorded transcripts with internal/transcript and report skipped lines")
		manifest = flag.Bool("manifest", false, "only rewrite MANIFEST.md from the recorded files")
		stores   = flag.Bool("stores", false, "record the session-store cases (storePlan) instead, into testdata/copilot-cli/stores unless -out is given")
		verbose  = flag.Bool("v", false, "print the CLI's output")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("record-transcripts: ")

	cases := plan()
	if *stores {
		cases = storePlan()
		outSet := false
		flag.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
		if !outSet {
			*out = storesDir
		}
	}
	if *list {
		for _, c := range cases {
			fmt.Println(c.Name + "\t" + c.describe())
		}
		return
	}
	if *check {
		if err := checkAll(*out, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *manifest {
		if err := writeManifest(*out, cases, *stores); err != nil {
			log.Fatal(err)
		}
		return
	}

	if *cliDir == "" {
		log.Fatal("-cli-dir is required")
	}
	if *cacheDir == "" {
		*cacheDir = filepath.Join(*cliDir, "cache")
	}
	selected := cases
	if *only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		selected = nil
		for _, c := range cases {
			if want[c.Name] {
				selected = append(selected, c)
				delete(want, c.Name)
			}
		}
		for n := range want {
			log.Fatalf("no case %q (see -list)", n)
		}
	}

	r := &recorder{
		cliDir:   mustAbs(*cliDir),
		cacheDir: mustAbs(*cacheDir),
		out:      mustAbs(*out),
		home:     mustAbs(*home),
		timeout:  *timeout,
		verbose:  *verbose,
	}
	if err := r.prepare(selected); err != nil {
		log.Fatal(err)
	}
	failed := 0
	for _, c := range selected {
		start := time.Now()
		if err := r.record(c); err != nil {
			failed++
			log.Printf("%s: FAILED: %v", c.Name, err)
			continue
		}
		log.Printf("%s: recorded in %s", c.Name, time.Since(start).Round(100*time.Millisecond))
	}
	if err := writeManifest(*out, cases, *stores); err != nil {
		log.Fatal(err)
	}
	if err := checkAll(*out, os.Stdout); err != nil {
		log.Fatal(err)
	}
	if failed > 0 {
		log.Fatalf("%d case(s) failed", failed)
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		log.Fatal(err)
	}
	return a
}
