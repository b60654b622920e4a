// Command crashtest measures whether the otelcol-copilot collector loses or
// repeats usage when it is killed, stopped or cut off from its gateway.
//
// It generates a corpus of Copilot CLI transcripts (internal/testsupport/transcriptgen),
// runs two collectors of the distribution on loopback, an agent that reads
// the corpus through one of the pipeline shapes under shapes/ and a gateway
// that writes every request it accepts as one JSON line, kills and restarts
// them on a seeded schedule while transcripts are being appended, and
// compares what the gateway received with the CLI's own accounting of each
// session (internal/testsupport/cliaccounting).
//
//	go run ./tools/crashtest -shape direct -kills 20 -sigterm 3 -gateway-kills 1
//	go run ./tools/crashtest -shape all -kills 10
//
// See tools/crashtest/README.md for the flags and how to read the table.
// Linux only: it pauses and continues the gateway with SIGSTOP and SIGCONT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(2)
	}
}

// run parses args, runs the shapes and prints the table. It returns
// errFailed when a shape fails the criteria of -expect.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("crashtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var seed int64
	fs.StringVar(&o.Collector, "collector", "", "the agent's binary, otelcol-copilot (default: built from ./cmd/otelcol-copilot into the work directory)")
	fs.StringVar(&o.Gateway, "gateway", "", "the gateway's binary, otelcol-copilot-gateway, which has the file exporter, chargeback and usage_ledger (default: built from ./cmd/otelcol-copilot-gateway into the work directory)")
	shape := fs.String("shape", "direct", "pipeline shape, or all: "+strings.Join(shapeNames(), ", "))
	fs.IntVar(&o.Sessions, "sessions", 300, "sessions in the corpus")
	fs.Int64Var(&seed, "seed", 1, "seed of the corpus and the fault schedule")
	fs.IntVar(&o.Kills, "kills", 10, "SIGKILLs of the agent, each restarted")
	fs.IntVar(&o.Sigterms, "sigterm", 0, "graceful stops (SIGTERM) of the agent, each restarted")
	fs.IntVar(&o.GatewayKills, "gateway-kills", 0, "SIGKILLs of the gateway, each restarted after an outage of 0.3-1.5 s")
	fs.Float64Var(&o.Stall, "stall", 0.3, "share of agent stops made while the gateway is paused (SIGSTOP), so that requests are in flight")
	fs.DurationVar(&o.MinDelay, "min-delay", 50*time.Millisecond, "shortest time from an agent start to its stop")
	fs.DurationVar(&o.MaxDelay, "max-delay", 2*time.Second, "longest time from an agent start to its stop")
	fs.Float64Var(&o.History, "history", 0.3, "share of sessions on disk before the agent first starts; the rest are appended while it runs")
	fs.DurationVar(&o.WriteTime, "write-time", 0, "how long the live sessions are appended over (default: about as long as the agent stops take)")
	fs.DurationVar(&o.Settle, "settle", 6*time.Second, "how long nothing may change before the agent counts as caught up (longer than any batch timeout)")
	fs.DurationVar(&o.SettleMax, "settle-timeout", 2*time.Minute, "how long to wait for the agent to catch up")
	fs.DurationVar(&o.TermTimeout, "term-timeout", 30*time.Second, "how long a graceful stop may take before the process is killed")
	expect := fs.String("expect", "exact", "criteria for the exit status: exact (exit 1 when a shape fails them) or none (report only)")
	fs.StringVar(&o.Dir, "dir", "", "where to make the work directories (default: the system's temporary directory)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work directories (kept anyway when a shape fails)")
	fs.BoolVar(&o.Ledger, "ledger", false, "the gateway also prices the metrics (chargeback) and keeps a usage ledger (usage_ledger), judged against the same accounting after dropping rows delivered twice")
	quiet := fs.Bool("q", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./tools/crashtest [flags]\n\nKills and restarts an otelcol-copilot agent (and its gateway) while it reads generated\nCopilot CLI transcripts, and judges what the gateway received against the CLI's own accounting.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Seed = uint64(seed)
	if !*quiet {
		o.Log = stderr
	}
	shapes := []string{*shape}
	if *shape == "all" {
		shapes = shapeNames()
	}
	for _, s := range shapes {
		if !slices.Contains(shapeNames(), s) {
			return fmt.Errorf("-shape %q: not one of %s, all", s, strings.Join(shapeNames(), ", "))
		}
	}
	switch {
	case *expect != "exact" && *expect != "none":
		return fmt.Errorf("-expect %q: exact or none", *expect)
	case o.Sessions < 4:
		return fmt.Errorf("-sessions %d: at least 4", o.Sessions)
	case o.MinDelay <= 0 || o.MaxDelay < o.MinDelay:
		return fmt.Errorf("-min-delay %s, -max-delay %s: 0 < min ≤ max", o.MinDelay, o.MaxDelay)
	case o.Kills < 0 || o.Sigterms < 0 || o.GatewayKills < 0:
		return errors.New("-kills, -sigterm and -gateway-kills cannot be negative")
	}
	for _, b := range []struct {
		bin *string
		cmd string
	}{{&o.Collector, "otelcol-copilot"}, {&o.Gateway, "otelcol-copilot-gateway"}} {
		if *b.bin != "" {
			continue
		}
		dir, err := os.MkdirTemp(o.Dir, "crashtest-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*b.bin = filepath.Join(dir, b.cmd)
		o.logf("building ./cmd/%s", b.cmd)
		if err := build(ctx, "./cmd/"+b.cmd, *b.bin); err != nil {
			return err
		}
	}
	var results []*result
	for _, s := range shapes {
		res, err := runShape(ctx, o, s)
		if err != nil {
			return fmt.Errorf("shape %s: %w", s, err)
		}
		results = append(results, res)
	}
	printTable(stdout, results)
	failed := false
	for _, r := range results {
		if f := r.failures(); len(f) > 0 {
			failed = true
			if *expect == "exact" {
				fmt.Fprintf(stdout, "\n%s FAILS the exact criteria (work directory kept: %s):\n", r.Shape, r.Dir)
				for _, l := range f {
					fmt.Fprintf(stdout, "  - %s\n", l)
				}
			}
		}
		if l := r.Ledger; l != nil {
			fmt.Fprintf(stdout, "\n%s, usage ledger: %d rows; lost %d records, %d tokens, %d nano-AIU; counted twice %d records, %d tokens, %d nano-AIU; %d sessions off\n",
				r.Shape, r.LedgerRows, l.LostRecords, l.LostTokens, l.LostNanoAIU, l.DupRecords, l.ExtraTokens, l.ExtraNanoAIU, l.SessionsOff)
			for _, d := range l.Details {
				fmt.Fprintf(stdout, "  %s\n", d)
			}
		}
		if len(r.Verdict.Details) > 0 {
			fmt.Fprintf(stdout, "\n%s, first sessions whose totals differ:\n", r.Shape)
			for _, l := range r.Verdict.Details {
				fmt.Fprintf(stdout, "  %s\n", l)
			}
		}
	}
	if failed && *expect == "exact" {
		return errFailed
	}
	return nil
}

// build builds a distribution (pkg, ./cmd/...) from the module this program
// is in.
func build(ctx context.Context, pkg, out string) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s in %s: %w", pkg, root, err)
	}
	return nil
}

// printTable prints one row per shape.
func printTable(w io.Writer, results []*result) {
	fmt.Fprintf(w, "\n%-17s %5s %5s %4s %6s %7s %7s %-14s %6s %7s %9s %8s  %s\n",
		"shape", "kills", "terms", "gw", "lost", "dup-rec", "off", "dup-req/kill", "gw-req", "dup-spn", "summ+/-", "wall", "verdict")
	for _, r := range results {
		v := r.Verdict
		perKill := "-"
		if r.Kills > 0 {
			perKill = fmt.Sprintf("%.2f", float64(v.Dups.Total)/float64(r.Kills))
		}
		verdict := "PASS"
		if len(r.failures()) > 0 {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-17s %5d %5d %4d %6d %7d %7s %-14s %6d %7d %9s %8s  %s\n",
			r.Shape, r.Kills, r.Terms, r.GwKills, v.LostRecords, v.DupRecords,
			fmt.Sprintf("%d/%d", v.SessionsOff, r.Sessions),
			fmt.Sprintf("%d (%s)", v.Dups.Total, perKill), v.Dups.GatewayInFlight, v.DupSpans,
			fmt.Sprintf("+%d/-%d", v.ExtraSummaries, v.MissingSummaries),
			r.Wall.Round(100*time.Millisecond), verdict)
	}
	for _, r := range results {
		v := r.Verdict
		fmt.Fprintf(w, "\n%s: %d sessions, %d usage records, %.1f MB; %d agent lives, %d stops with the gateway paused; requests: %d metrics, %d traces, %d logs (%d unreadable); %d spans, %d summaries\n",
			r.Shape, r.Sessions, r.Records, float64(r.Bytes)/1e6, r.AgentLives, r.Stalled,
			v.Requests["metrics"], v.Requests["traces"], v.Requests["logs"], v.Unreadable, v.Spans, v.Summaries)
		fmt.Fprintf(w, "  identical requests by cause: %d after kills, %d after graceful stops, %d after gateway kills (%d the one it died on), %d with no fault before; by signal: %d metrics, %d traces, %d logs\n",
			v.Dups.Kill, v.Dups.Term, v.Dups.Gateway+v.Dups.GatewayInFlight, v.Dups.GatewayInFlight, v.Dups.None,
			v.DupsBySig["metrics"], v.DupsBySig["traces"], v.DupsBySig["logs"])
		fmt.Fprintf(w, "  after dropping them: lost %d records, %d tokens, %d nano-AIU, %.2f premium requests; counted twice %d records, %d tokens, %d nano-AIU, %.2f premium requests\n",
			v.LostRecords, v.LostTokens, v.LostNanoAIU, v.LostPremium, v.DupRecords, v.ExtraTokens, v.ExtraNanoAIU, v.ExtraPremium)
		rc := v.RepeatedByCause
		fmt.Fprintf(w, "  records re-sent in a different request, by cause: %d after kills, %d after graceful stops, %d after gateway kills, %d with no fault before\n",
			rc.Kill, rc.Term, rc.Gateway, rc.None)
	}
}
