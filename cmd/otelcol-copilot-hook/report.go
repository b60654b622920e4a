package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/report"
	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
)

// filterFlags collects repeated --filter key=value[,value] flags.
type filterFlags []report.Filter

// dirFlags are the directories of a repeatable flag.
type dirFlags []string

func (d *dirFlags) String() string { return strings.Join(*d, ",") }

func (d *dirFlags) Set(v string) error {
	if v == "" {
		return errors.New("empty directory")
	}
	*d = append(*d, v)
	return nil
}

func (f *filterFlags) String() string { return "" }

func (f *filterFlags) Set(s string) error {
	v, err := report.ParseFilter(s)
	if err != nil {
		return err
	}
	*f = append(*f, v)
	return nil
}

// reportCmd is `report`: what Copilot cost, for whom, for what.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	by := fs.String("by", "ticket", "group by these keys, comma-separated: "+strings.Join(report.Keys, ", ")+` ("" for one total)`)
	var filters filterFlags
	fs.Var(&filters, "filter", "keep records whose key matches a value or glob: key=value[,value...] (repeatable; all must hold)")
	var ledgers dirFlags
	fs.Var(&ledgers, "ledger", "read the usage ledger a central collector's usage_ledger exporter writes in this directory (repeatable) instead of local transcripts: the organization's spend, priced and attributed where it was collected")
	since := fs.String("since", "", "from this date (2026-11-17, midnight) or RFC 3339 time")
	until := fs.String("until", "", "up to this date (exclusive: until 2026-12-01 ends with November 30) or RFC 3339 time")
	sprint := fs.String("sprint", "", "first..last day, both included: 2026-11-17..2026-11-30")
	tz := fs.String("timezone", "UTC", "where days, weeks and dates begin (an IANA name such as Europe/Berlin, or Local)")
	format := fs.String("format", "table", "table, csv, json, markdown or html")
	output := fs.String("o", "", "write to this file instead of stdout")
	config := fs.String("config", "", "a collector configuration (its processors::chargeback) or a file holding just that block; default: tickets from branches, AI credits at US$0.01")
	proc := fs.String("processor", "", "with --config, take processors::chargeback/<name>")
	home := fs.String("copilot-home", "", "read $COPILOT_HOME/session-state/*/events.jsonl (default $COPILOT_HOME, else ~/.copilot) when no transcripts are given")
	userName := fs.String("user", "", "the user the spend is attributed to, as the receiver's session_state.user (default: the account running the report)")
	unattributed := fs.String("unattributed", "", "with --ledger, the value the ledger's attribution gave what nothing decided (its attribution.unattributed); default: the value the rows nothing attributed show, else --config's")
	progress := fs.String("progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: otelcol-copilot-hook report [flags] [transcript glob ...]\n\n")
		fs.PrintDefaults()
	}
	var globs []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageError(stderr, "report", err, "")
		}
		if fs.NArg() == 0 {
			break
		}
		globs = append(globs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	bad := func(err error) int { return usageError(stderr, "report", err, "") }

	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return bad(fmt.Errorf("--timezone: %w", err))
	}
	q := report.Query{Filters: filters, Location: loc}
	if q.By, err = report.ParseKeys(*by); err != nil {
		return bad(fmt.Errorf("--by: %w", err))
	}
	if *sprint != "" {
		if *since != "" || *until != "" {
			return bad(errors.New("--sprint replaces --since and --until"))
		}
		if q.Since, q.Until, err = report.ParseSprint(*sprint, loc); err != nil {
			return bad(fmt.Errorf("--sprint: %w", err))
		}
	}
	if *since != "" {
		if q.Since, err = report.ParseTime(*since, loc); err != nil {
			return bad(fmt.Errorf("--since: %w", err))
		}
	}
	if *until != "" {
		if q.Until, err = report.ParseTime(*until, loc); err != nil {
			return bad(fmt.Errorf("--until: %w", err))
		}
	}
	if !slices.Contains(report.Formats, *format) {
		return bad(fmt.Errorf("--format %q: must be one of %s", *format, strings.Join(report.Formats, ", ")))
	}
	if *progress != "auto" && *progress != "always" && *progress != "never" {
		return bad(fmt.Errorf("--progress %q: must be auto, always or never", *progress))
	}
	if *unattributed != "" && len(ledgers) == 0 {
		return bad(errors.New("--unattributed is for --ledger; over transcripts the value is --config's attribution.unattributed"))
	}
	if *proc != "" && *config == "" {
		return bad(errors.New("--processor needs --config"))
	}

	cfg := chargeback.Default()
	if *config != "" {
		if cfg, err = report.LoadConfig(*config, *proc); err != nil {
			return fail(stderr, "report", fmt.Errorf("--config: %w", err))
		}
	}
	resolver, err := attribution.New(cfg.Attribution, nil)
	if err != nil {
		return fail(stderr, "report", fmt.Errorf("attribution: %w", err))
	}
	pricer, err := pricing.New(cfg.Pricing)
	if err != nil {
		return fail(stderr, "report", fmt.Errorf("pricing: %w", err))
	}
	q.Unattributed = cfg.Attribution.Unattributed
	if q.Unattributed == "" {
		q.Unattributed = attribution.DefaultUnattributed
	}

	if len(ledgers) > 0 {
		if len(globs) > 0 || *home != "" || *userName != "" {
			return bad(errors.New("--ledger reads the ledger's rows, already priced and attributed: give no transcripts, --copilot-home or --user with it"))
		}
		if *unattributed != "" {
			q.Unattributed = *unattributed
		} else {
			q.FindUnattributed = true
		}
		return writeReport(stdout, stderr, &report.Ledger{Dirs: ledgers}, q, *format, *output)
	}
	if len(globs) == 0 {
		h, err := copilotHomeDir(*home)
		if err != nil {
			return fail(stderr, "report", err)
		}
		globs = []string{filepath.Join(h, "session-state", "*", "events.jsonl")}
	}
	u := *userName
	if u == "" {
		u = statedir.User()
	}
	src := &report.Transcripts{Globs: globs, User: u, Resolver: resolver, Pricer: pricer}
	var done func()
	if *progress == "always" || *progress == "auto" && isTerminal(os.Stderr) {
		src.Progress, done = report.ProgressPrinter(stderr, time.Now)
	}
	rep, err := report.Run(context.Background(), src, q, pricer.Currency())
	if done != nil {
		done()
	}
	if err != nil {
		return fail(stderr, "report", err)
	}
	return writeOut(stdout, stderr, rep, *format, *output)
}

// writeReport runs the query over the usage ledger and writes the report,
// in the currency of the rows it counts.
func writeReport(stdout, stderr io.Writer, src *report.Ledger, q report.Query, format, path string) int {
	rep, err := report.Run(context.Background(), src, q, "")
	if err != nil {
		return fail(stderr, "report", err)
	}
	return writeOut(stdout, stderr, rep, format, path)
}

// writeOut writes the report in a format to stdout, or to the file at path.
func writeOut(stdout, stderr io.Writer, rep *report.Report, format, path string) int {
	w := stdout
	var fh *os.File
	var err error
	if path != "" {
		if fh, err = os.Create(path); err != nil {
			return fail(stderr, "report", err)
		}
		w = fh
	}
	err = report.Write(w, rep, format)
	if fh != nil {
		err = errors.Join(err, fh.Close())
	}
	if err != nil {
		return fail(stderr, "report", err)
	}
	return 0
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
