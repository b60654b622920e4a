// Command otelcol-copilot-hook is the companion of otelcol-copilot that
// GitHub Copilot CLI runs for each hook: it adds the session's usage to the
// payload and hands it to the collector's copilot receiver, spooling what
// the collector cannot take now. It starts in milliseconds, exits 0 and
// writes nothing to stdout whatever happens, and logs to hook.log in the
// per-user state directory.
//
//	otelcol-copilot-hook forward <hookType> [--endpoint URL] [--token-file F] [--timeout D] [--spool-dir D] [--copilot-home D]
//	otelcol-copilot-hook drain [--endpoint URL] [--token-file F] [--timeout D] [--spool-dir D] [--budget D] [--wait D]
//	otelcol-copilot-hook install [--endpoint URL] [--token-file F] [--timeout-sec N] [--copilot-home D] [--force]
//	otelcol-copilot-hook uninstall [--copilot-home D] [--force]
//	otelcol-copilot-hook usage --session ID [--transcript PATH] [--format env|json] [--copilot-home D]
//	otelcol-copilot-hook service install [--collector PATH] [--gateway URL] [--gateway-token-file F] [--no-start] [--dry-run]
//	otelcol-copilot-hook service uninstall [--dry-run]
//	otelcol-copilot-hook status [--metrics-url URL]
//	otelcol-copilot-hook report [--by KEYS] [--filter K=V]... [--since T] [--until T] [--sprint A..B] [--format F] [--config F [--processor NAME]] [glob ...]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/report"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usageText = `otelcol-copilot-hook: forward GitHub Copilot CLI hook payloads, with the session's usage, to otelcol-copilot.

Commands:
  forward <hookType> [flags]   read one payload from stdin and deliver it (or spool it); always exits 0
  drain [flags]                replay the spool now and say what was delivered and kept
  install [flags]              write $COPILOT_HOME/hooks/otelcol-copilot.json, running forward for every hook type
  uninstall [flags]            remove that file
  service install [flags]      run otelcol-copilot as a per-user service (systemd user unit, launchd agent),
                               optionally sending to a gateway (--gateway URL --gateway-token-file F)
  service uninstall [flags]    stop that service and remove it
  status [flags]               what runs, where it sends, how far behind it is, and the hooks' spool
  usage --session ID [flags]   print a session's usage as COPILOT_SESSION_* variables (--format env) or JSON
  statusline [flags]           one short line of the session's AI credits, cost and tokens, for Copilot CLI's
                               statusLine.command (the session comes from the JSON the CLI writes to stdin)
  report [flags] [glob ...]    what Copilot cost, for whom, for what: spend by ticket, team, model, day, ...
                               as a table, CSV, JSON, Markdown or an HTML page with charts
  version                      print the version

Run "otelcol-copilot-hook <command> -h" for a command's flags.
Environment: OTELCOL_COPILOT_ENDPOINT, OTELCOL_COPILOT_TOKEN, OTELCOL_COPILOT_TOKEN_FILE,
OTELCOL_COPILOT_SPOOL_DIR, OTELCOL_COPILOT_STATE_DIR, COPILOT_HOME, OTELCOL_COPILOT_HOOK_LOG_LEVEL;
for service install: OTELCOL_COPILOT_GATEWAY, OTELCOL_COPILOT_GATEWAY_TOKEN_FILE.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs a command and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "forward":
		return forward(rest, stdin, stderr)
	case "drain":
		return drain(rest, stdout, stderr)
	case "install":
		return install(rest, stdout, stderr)
	case "uninstall":
		return uninstall(rest, stdout, stderr)
	case "service":
		return serviceCmd(rest, stdout, stderr)
	case "status":
		return status(rest, stdout, stderr)
	case "usage":
		return usage(rest, stdin, stdout, stderr)
	case "statusline":
		return statusline(rest, stdin, stdout, stderr)
	case "report":
		return reportCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "otelcol-copilot-hook", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usageText)
		return 0
	}
	fmt.Fprintf(stderr, "otelcol-copilot-hook: unknown command %q\n\n%s", cmd, usageText)
	return 2
}

// sendFlags are the flags of the commands that talk to the collector.
func sendFlags(fs *flag.FlagSet, s *forwarder.Settings) {
	fs.StringVar(&s.Endpoint, "endpoint", "", "the copilot receiver's base URL (default $"+forwarder.EnvEndpoint+", else "+forwarder.DefaultEndpoint+")")
	fs.StringVar(&s.TokenFile, "token-file", "", "file holding the bearer token (default $"+forwarder.EnvToken+", else the file $"+forwarder.EnvTokenFile+")")
	fs.StringVar(&s.SpoolDir, "spool-dir", "", "spool directory (default $"+forwarder.EnvSpoolDir+", else <state dir>/spool)")
	fs.Int64Var(&s.SpoolMaxBytes, "spool-max-bytes", forwarder.DefaultSpoolMaxBytes, "size bound of the spool; the oldest payloads are dropped over it")
	fs.IntVar(&s.SpoolMaxFiles, "spool-max-files", forwarder.DefaultSpoolMaxFiles, "payload-count bound of the spool")
	fs.StringVar(&s.LogLevel, "log-level", "", "debug, info, warn or error (default $"+forwarder.EnvLogLevel+", else info)")
}

// parse parses flags around one optional positional argument, which may
// come before or after them.
func parse(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if len(pos) > 0 {
				return pos[0], err
			}
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(pos) {
	case 0:
		return "", nil
	case 1:
		return pos[0], nil
	}
	return "", fmt.Errorf("unexpected arguments %q", pos[1:])
}

func forward(args []string, stdin io.Reader, stderr io.Writer) (code int) {
	// Whatever happens, the CLI's agent must not be failed: exit 0.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "otelcol-copilot-hook: internal error: %v\n", r)
		}
		code = 0
	}()
	var s forwarder.Settings
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sendFlags(fs, &s)
	fs.DurationVar(&s.Timeout, "timeout", forwarder.DefaultTimeout, "time limit of each POST to the collector")
	fs.StringVar(&s.CopilotHome, "copilot-home", "", "the CLI's home, where session-state/<id>/events.jsonl is (default $"+forwarder.EnvCopilotHome+", else ~/.copilot)")
	fs.DurationVar(&s.ReplayBudget, "replay-budget", forwarder.DefaultReplayBudget, "time spent replaying the spool before the payload is sent")
	fs.DurationVar(&s.SyncWait, "sync-wait", forwarder.DefaultSyncWait, "time spent waiting for the CLI to write this hook's hook.start line (and the usage before it) to the transcript; 0 waits not")
	fs.StringVar(&s.SyncHooks, "sync-hooks", "", "hook types that wait --sync-wait for the CLI's writes: comma-separated, all or none (default agentStop,subagentStop,sessionEnd)")
	fs.BoolVar(&s.NoUsage, "no-usage", false, "forward payloads without adding usage")
	noDrainer := fs.Bool("no-drainer", false, "do not start a background drainer when payloads are left in the spool")
	typ, perr := parse(fs, args)
	if errors.Is(perr, flag.ErrHelp) {
		fmt.Fprintln(stderr, "usage: otelcol-copilot-hook forward <hookType> [flags] < payload.json")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return 0
	}
	if s.SyncWait == 0 {
		s.SyncWait = -1 // --sync-wait 0: do not wait
	}

	cfg, errs := forwarder.Resolve(s, os.Getenv)
	log := cfg.Logger(fmt.Sprintf("pid=%d forward %s", os.Getpid(), typ), stderr)
	if perr != nil {
		// Forward anyway, with what was understood.
		log.Errorf("command line %q: %v", args, perr)
	}
	for _, err := range errs {
		log.Errorf("configuration: %v", err)
	}
	f := cfg.Forwarder(log, "otelcol-copilot-hook/"+version)
	res := f.Forward(typ, stdin)
	if !*noDrainer && (res.Status == "spooled" || res.Replay.Pending > 0) && f.ClaimDrainerStart() {
		if !startDrainer(cfg, s, log) {
			f.ReleaseDrainerStart()
		}
	}
	return 0
}

// startDrainer starts drain --wait in the background, so that the spool is
// replayed when the collector is back even if no hook fires.
func startDrainer(cfg forwarder.Config, s forwarder.Settings, log *forwarder.Logger) bool {
	exe, err := os.Executable()
	if err != nil {
		log.Warnf("could not start a drainer: %v", err)
		return false
	}
	args := []string{"drain", "--wait", forwarder.DefaultDrainerWait.String(),
		"--endpoint", cfg.Endpoint, "--spool-dir", cfg.SpoolDir, "--timeout", max(cfg.Timeout, 5*time.Second).String()}
	if s.TokenFile != "" {
		args = append(args, "--token-file", s.TokenFile)
	}
	if s.LogLevel != "" {
		args = append(args, "--log-level", s.LogLevel)
	}
	pid, err := forwarder.StartDetached(exe, args)
	if err != nil {
		log.Warnf("could not start a drainer: %v", err)
		return false
	}
	log.Infof("started drainer pid %d: it replays the spool when the collector at %s is back", pid, cfg.Endpoint)
	return true
}

func drain(args []string, stdout, stderr io.Writer) int {
	var s forwarder.Settings
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sendFlags(fs, &s)
	fs.DurationVar(&s.Timeout, "timeout", 5*time.Second, "time limit of each POST to the collector")
	budget := fs.Duration("budget", time.Minute, "time limit of the whole drain")
	wait := fs.Duration("wait", 0, "wait up to this long for the collector's health, draining whenever it is up, until the spool is empty (what forward starts in the background)")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, "drain", err, pos)
	}
	cfg, errs := forwarder.Resolve(s, os.Getenv)
	if fatal(stderr, errs) {
		return 1
	}
	log := cfg.Logger(fmt.Sprintf("pid=%d drain", os.Getpid()), nil)
	f := cfg.Forwarder(log, "otelcol-copilot-hook/"+version)
	var d forwarder.DrainResult
	var err error
	if *wait > 0 {
		d, err = f.DrainWhenUp(*wait)
		if err == nil && d.Busy {
			fmt.Fprintf(stdout, "another drainer is waiting for the collector; nothing to do\n")
			return 0
		}
		if err == nil && d.Delivered+d.Dropped > 0 {
			log.Infof("drained the spool: %d delivered, %d dropped, %d kept", d.Delivered, d.Dropped, d.Spool.Payloads)
		}
	} else {
		d, err = f.Drain(*budget)
	}
	if err != nil {
		fmt.Fprintf(stderr, "otelcol-copilot-hook drain: %v\n", err)
		return 1
	}
	if d.Busy {
		fmt.Fprintf(stdout, "another otelcol-copilot-hook is replaying the spool %s; try again\n", cfg.EndpointSpoolDir())
	}
	fmt.Fprintf(stdout, "delivered %d, dropped %d (refused by the collector or corrupt), kept %d\n", d.Delivered, d.Dropped, d.Spool.Payloads)
	if d.Stopped != "" {
		fmt.Fprintf(stdout, "stopped: %s\n", d.Stopped)
	}
	fmt.Fprintf(stdout, "spool %s (for %s): %d payloads, %d bytes; dropped over its bounds so far: %d\n", cfg.EndpointSpoolDir(), cfg.Endpoint, d.Spool.Payloads, d.Spool.Bytes, d.Spool.Dropped)
	printOtherSpools(stdout, cfg)
	if d.Spool.Payloads > 0 {
		return 1
	}
	return 0
}

// printOtherSpools names the payloads in the spool directory that wait for
// another endpoint than the configured one: drain sends payloads only to
// the collector they were spooled for.
func printOtherSpools(w io.Writer, cfg forwarder.Config) {
	spools, err := forwarder.Spools(cfg.SpoolDir)
	if err != nil {
		fmt.Fprintf(w, "spool %s: %v\n", cfg.SpoolDir, err)
	}
	own := cfg.EndpointSpoolDir()
	for _, sp := range spools {
		if sp.Dir == own || sp.Stats.Payloads == 0 {
			continue
		}
		if sp.Endpoint == "" {
			fmt.Fprintf(w, "also %d payloads of an older otelcol-copilot-hook in %s: the next forward or drain takes them for its endpoint\n", sp.Stats.Payloads, sp.Dir)
			continue
		}
		fmt.Fprintf(w, "also %d payloads for another endpoint, %s, in %s: otelcol-copilot-hook drain --endpoint %s sends them there\n",
			sp.Stats.Payloads, sp.Endpoint, sp.Dir, sp.Endpoint)
	}
}

func install(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "", "the copilot receiver's base URL, passed to forward (default: forward's own default)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token, passed to forward")
	timeoutSec := fs.Int("timeout-sec", forwarder.DefaultHookTimeoutSec, "the CLI's time limit for each hook")
	timeout := fs.Duration("timeout", 0, "time limit of each POST, passed to forward")
	spoolDir := fs.String("spool-dir", "", "spool directory, passed to forward")
	home := fs.String("copilot-home", "", "the CLI's home, where hooks/ is (default $"+forwarder.EnvCopilotHome+", else ~/.copilot); passed to forward when set")
	force := fs.Bool("force", false, "replace a file at the path that install did not write")
	var passDurations []durationFlag
	for _, d := range []struct{ name, usage string }{
		{"replay-budget", "time spent replaying the spool, passed to forward"},
		{"sync-wait", "time spent waiting for the hook's line in the transcript, passed to forward"},
	} {
		passDurations = append(passDurations, durationFlag{name: d.name})
		fs.Var(&passDurations[len(passDurations)-1], d.name, d.usage)
	}
	syncHooks := fs.String("sync-hooks", "", "hook types that wait for the CLI's writes, passed to forward")
	noDrainer := fs.Bool("no-drainer", false, "passed to forward: start no background drainer")
	noUsage := fs.Bool("no-usage", false, "passed to forward: add no usage")
	spoolMaxBytes := fs.Int64("spool-max-bytes", 0, "size bound of the spool, passed to forward")
	spoolMaxFiles := fs.Int("spool-max-files", 0, "payload-count bound of the spool, passed to forward")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, "install", err, pos)
	}
	var pass []string
	if *endpoint != "" {
		if err := forwarder.CheckEndpoint(*endpoint); err != nil {
			return fail(stderr, "install", fmt.Errorf("--endpoint %q: %w", *endpoint, err))
		}
		pass = append(pass, "--endpoint", *endpoint)
	}
	if *tokenFile != "" {
		abs, err := filepath.Abs(*tokenFile)
		if err != nil {
			return fail(stderr, "install", fmt.Errorf("--token-file %s: %w", *tokenFile, err))
		}
		if _, err := os.Stat(abs); err != nil {
			fmt.Fprintf(stderr, "otelcol-copilot-hook install: warning: --token-file %s: %v (hooks will send no token until it exists)\n", abs, err)
		}
		pass = append(pass, "--token-file", abs)
	}
	if *timeout != 0 {
		if *timeout < 0 {
			return fail(stderr, "install", fmt.Errorf("--timeout %s: must be positive", *timeout))
		}
		pass = append(pass, "--timeout", timeout.String())
	}
	if *spoolDir != "" {
		abs, err := filepath.Abs(*spoolDir)
		if err != nil {
			return fail(stderr, "install", fmt.Errorf("--spool-dir %s: %w", *spoolDir, err))
		}
		pass = append(pass, "--spool-dir", abs)
	}
	for _, d := range passDurations {
		if d.set {
			pass = append(pass, "--"+d.name, d.value.String())
		}
	}
	if *syncHooks != "" {
		if _, err := forwarder.ParseHookList(*syncHooks); err != nil {
			return fail(stderr, "install", fmt.Errorf("--sync-hooks: %w", err))
		}
		pass = append(pass, "--sync-hooks", *syncHooks)
	}
	if *noDrainer {
		pass = append(pass, "--no-drainer")
	}
	if *noUsage {
		pass = append(pass, "--no-usage")
	}
	if *spoolMaxBytes != 0 {
		pass = append(pass, "--spool-max-bytes", strconv.FormatInt(*spoolMaxBytes, 10))
	}
	if *spoolMaxFiles != 0 {
		pass = append(pass, "--spool-max-files", strconv.Itoa(*spoolMaxFiles))
	}
	if *timeoutSec <= 0 {
		return fail(stderr, "install", fmt.Errorf("--timeout-sec %d: must be positive", *timeoutSec))
	}
	worst := forwarder.DefaultTimeout + forwarder.DefaultReplayBudget + forwarder.DefaultSyncWait
	if *timeout > 0 {
		worst += *timeout - forwarder.DefaultTimeout
	}
	for _, d := range passDurations {
		if d.set && d.name == "replay-budget" {
			worst += d.value - forwarder.DefaultReplayBudget
		}
		if d.set && d.name == "sync-wait" {
			worst += d.value - forwarder.DefaultSyncWait
		}
	}
	if worst >= time.Duration(*timeoutSec)*time.Second {
		fmt.Fprintf(stderr, "otelcol-copilot-hook install: warning: a hook may take up to %s (timeout, replay budget and sync wait), not less than --timeout-sec %d: the CLI would stop it\n", worst, *timeoutSec)
	}
	copilotHome, err := copilotHomeDir(*home)
	if err != nil {
		return fail(stderr, "install", err)
	}
	if *home != "" {
		pass = append(pass, "--copilot-home", copilotHome)
	}
	bin, err := os.Executable()
	if err != nil {
		return fail(stderr, "install", fmt.Errorf("cannot tell where this binary is: %w", err))
	}
	if rel, err := filepath.Rel(os.TempDir(), bin); err == nil && !strings.HasPrefix(rel, "..") {
		fmt.Fprintf(stderr, "otelcol-copilot-hook install: warning: this binary is in a temporary directory (%s, go run?); the hooks will stop working when it is removed: build it and install from there\n", bin)
	}
	path, changed, err := forwarder.Install(forwarder.InstallOptions{
		CopilotHome: copilotHome, Binary: bin, Args: pass, TimeoutSec: *timeoutSec, Force: *force,
	})
	if err != nil {
		return fail(stderr, "install", err)
	}
	if changed {
		fmt.Fprintf(stdout, "wrote %s: every hook type runs %s forward\n", path, bin)
	} else {
		fmt.Fprintf(stdout, "%s is already up to date; nothing changed\n", path)
	}
	pathHint(stdout, bin)
	return 0
}

func uninstall(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("copilot-home", "", "the CLI's home (default $"+forwarder.EnvCopilotHome+", else ~/.copilot)")
	force := fs.Bool("force", false, "remove the file even if install did not write it")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, "uninstall", err, pos)
	}
	copilotHome, err := copilotHomeDir(*home)
	if err != nil {
		return fail(stderr, "uninstall", err)
	}
	path, removed, err := forwarder.Uninstall(copilotHome, *force)
	if err != nil {
		return fail(stderr, "uninstall", err)
	}
	if removed {
		fmt.Fprintf(stdout, "removed %s\n", path)
	} else {
		fmt.Fprintf(stdout, "%s does not exist; nothing changed\n", path)
	}
	return 0
}

func usage(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var q usageQuery
	fs.StringVar(&q.id, "session", "", "the session id (required); - reads the hook payload on stdin and takes its session id (and transcript path)")
	fs.StringVar(&q.transcript, "transcript", "", "the session's events.jsonl (default $COPILOT_HOME/session-state/<id>/events.jsonl)")
	format := fs.String("format", "env", "env (COPILOT_SESSION_* variables, for eval) or json (the Option A usage object)")
	fs.StringVar(&q.home, "copilot-home", "", "the CLI's home (default $"+forwarder.EnvCopilotHome+", else ~/.copilot)")
	fs.StringVar(&q.config, "config", "", "attribute and price with this chargeback configuration: a collector configuration (its processors::chargeback) or a file holding just that block; default: tickets from branches, AI credits at US$0.01")
	fs.StringVar(&q.user, "user", "", "the user the spend is attributed to (default: the account running the command)")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, "usage", err, pos)
	}
	if q.id == "" {
		return fail(stderr, "usage", errors.New("--session is required (the session id, e.g. from a hook payload's sessionId, or - for the payload on stdin)"))
	}
	if *format != "env" && *format != "json" {
		return fail(stderr, "usage", fmt.Errorf("--format %q: must be env or json", *format))
	}
	if q.id == "-" {
		if err := q.fromPayload(stdin); err != nil {
			return fail(stderr, "usage", err)
		}
	}
	res, ch, err := q.run()
	if err != nil {
		return fail(stderr, "usage", err)
	}
	if *format == "json" {
		b, err := json.Marshal(struct {
			session.UsageSummary
			Source string `json:"source"`
		}{res.Summary, res.Source})
		if err != nil {
			return fail(stderr, "usage", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	vars := append(forwarder.UsageEnv(q.id, res.Summary), forwarder.ChargeEnv(ch, res.Summary)...)
	vars = append(vars, forwarder.EnvVar{Name: forwarder.EnvPrefix + "USAGE_SOURCE", Value: res.Source})
	fmt.Fprint(stdout, forwarder.FormatEnv(vars))
	return 0
}

// usageQuery is which session's usage to read and how to charge it.
type usageQuery struct {
	id, transcript, home, config, user string
}

// fromPayload takes the session (and its transcript) from a hook's or the
// status line's JSON payload (either dialect).
func (q *usageQuery) fromPayload(r io.Reader) error {
	body, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the payload on stdin: %w", err)
	}
	sid, tpath, err := hook.Session(body)
	if err != nil {
		return fmt.Errorf("the payload on stdin: %w", err)
	}
	q.id = sid
	if q.transcript == "" && tpath != "" && filepath.Base(filepath.Dir(tpath)) == sid {
		q.transcript = tpath
	}
	return nil
}

// run reads the session's usage (through the forwarder's usage cache) and
// attributes and prices it with the chargeback processor's code.
func (q *usageQuery) run() (forwarder.UsageResult, chargeback.Charge, error) {
	var res forwarder.UsageResult
	cbCfg := chargeback.Default()
	if q.config != "" {
		var err error
		if cbCfg, err = report.LoadConfig(q.config, ""); err != nil {
			return res, chargeback.Charge{}, fmt.Errorf("--config: %w", err)
		}
	}
	copilotHome, err := copilotHomeDir(q.home)
	if err != nil && q.transcript == "" {
		return res, chargeback.Charge{}, err
	}
	path, err := forwarder.TranscriptPath(copilotHome, q.id, q.transcript)
	if err != nil {
		return res, chargeback.Charge{}, fmt.Errorf("--session: %w", err)
	}
	// Only the state directory (for the usage cache) matters here.
	cfg, _ := forwarder.Resolve(forwarder.Settings{CopilotHome: copilotHome}, os.Getenv)
	counter := cfg.UsageCounter(cfg.Logger(fmt.Sprintf("pid=%d usage", os.Getpid()), nil))
	counter.Roots = nil // the path is the user's own choice
	if res, err = counter.SessionUsage(q.id, path, nil); err != nil {
		return res, chargeback.Charge{}, fmt.Errorf("cannot read the transcript of session %s (and the session store has none of its usage): %w", q.id, err)
	}
	resolver, err := attribution.New(cbCfg.Attribution, nil)
	if err != nil {
		return res, chargeback.Charge{}, fmt.Errorf("attribution: %w", err)
	}
	pricer, err := pricing.New(cbCfg.Pricing)
	if err != nil {
		return res, chargeback.Charge{}, fmt.Errorf("pricing: %w", err)
	}
	u := q.user
	if u == "" {
		u = statedir.User()
	}
	return res, chargeback.SessionCharge(resolver, pricer, &res.Context, u, res.Summary), nil
}

// statusline prints the session's running AI credits, cost and tokens in
// one short line, for Copilot CLI's statusLine.command: the CLI writes a
// JSON object with the session_id (and transcript_path) to its stdin and
// shows what it prints. It prints nothing and exits 0 when it cannot tell,
// so that the status line stays quiet rather than showing an error.
func statusline(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("statusline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var q usageQuery
	fs.StringVar(&q.home, "copilot-home", "", "the CLI's home (default $"+forwarder.EnvCopilotHome+", else ~/.copilot)")
	fs.StringVar(&q.config, "config", "", "attribute and price with this chargeback configuration (as usage and report take it)")
	fs.StringVar(&q.id, "session", "", "the session id (default: the session_id of the JSON on stdin)")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, "statusline", err, pos)
	}
	if q.id == "" {
		if err := q.fromPayload(stdin); err != nil {
			return 0
		}
	}
	res, ch, err := q.run()
	if err != nil {
		return 0
	}
	fmt.Fprintln(stdout, StatusLine(res.Summary, ch))
	return 0
}

// StatusLine is the one line statusline prints: AI credits, the cost in
// the configured currency, tokens (input and output, in thousands above
// 10,000) and the ticket when the branch names one.
func StatusLine(u session.UsageSummary, ch chargeback.Charge) string {
	tokens := u.TokenDetails.Input + u.TokenDetails.Output
	t := strconv.FormatInt(tokens, 10)
	if tokens >= 10000 {
		t = strconv.FormatFloat(float64(tokens)/1000, 'f', 1, 64) + "k"
	}
	line := fmt.Sprintf("%s credits · %s %s · %s tokens", forwarder.Credits(u.TotalNanoAIU), ch.Cost.String(), ch.Currency, t)
	if tk := ch.Attribution.Ticket; tk != "" && tk != attribution.DefaultUnattributed {
		line += " · " + tk
	}
	return line
}

func copilotHomeDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	h, err := statedir.CopilotHome(nil)
	if err != nil {
		return "", fmt.Errorf("no Copilot home: set --copilot-home or %s (%v)", forwarder.EnvCopilotHome, err)
	}
	return filepath.Abs(h)
}

func fatal(stderr io.Writer, errs []error) bool {
	for _, err := range errs {
		fmt.Fprintf(stderr, "otelcol-copilot-hook: %v\n", err)
	}
	return len(errs) > 0
}

func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "otelcol-copilot-hook %s: %v\n", cmd, err)
	return 1
}

func usageError(stderr io.Writer, cmd string, err error, pos string) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = fmt.Errorf("unexpected argument %s", strconv.Quote(pos))
	}
	fmt.Fprintf(stderr, "otelcol-copilot-hook %s: %v\n", cmd, err)
	return 2
}

// durationFlag is a duration flag that knows whether it was given.
type durationFlag struct {
	name  string
	value time.Duration
	set   bool
}

// String implements flag.Value.
func (d *durationFlag) String() string {
	if d == nil || !d.set {
		return ""
	}
	return d.value.String()
}

// Set implements flag.Value.
func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.value, d.set = v, true
	return nil
}
