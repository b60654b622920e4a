package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
	"github.com/otelcol-copilot/otelcol-copilot/internal/service"
	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
)

// serviceRunner runs systemctl and launchctl; tests replace it.
var serviceRunner = func() service.Runner { return service.ExecRunner{} }

const serviceUsage = `usage: otelcol-copilot-hook service <command> [flags]

  install [flags]     install otelcol-copilot as a per-user service (systemd user unit on Linux,
                      launchd agent on macOS) that runs now and at every login
  uninstall [flags]   stop it and remove it
  status [flags]      what runs, where it sends, how far behind it is (also: otelcol-copilot-hook status)

Run "otelcol-copilot-hook service <command> -h" for a command's flags.
`

func serviceCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, serviceUsage)
		return 2
	}
	switch args[0] {
	case "install":
		return serviceInstall(args[1:], stdout, stderr)
	case "uninstall":
		return serviceUninstall(args[1:], stdout, stderr)
	case "status":
		return status(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, serviceUsage)
		return 0
	}
	fmt.Fprintf(stderr, "otelcol-copilot-hook service: unknown command %q\n\n%s", args[0], serviceUsage)
	return 2
}

// serviceOptions are the options every service command shares: the
// user's home and id, and the state directory.
func serviceOptions() (service.Options, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return service.Options{}, fmt.Errorf("no home directory: set HOME (%v)", err)
	}
	o := service.Options{Home: home, UID: os.Getuid()}
	if d, err := statedir.Dir(); err == nil {
		o.StateDir, _ = filepath.Abs(d)
	}
	return o, nil
}

func serviceInstall(args []string, stdout, stderr io.Writer) int {
	const cmd = "service install"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	collector := fs.String("collector", "", "the otelcol-copilot binary (default: otelcol-copilot next to this binary, else on PATH)")
	gateway := fs.String("gateway", "", "the gateway's OTLP/HTTP base URL, e.g. https://gateway.example:4318; the service's "+service.EnvGateway+" (default $"+service.EnvGateway+"; none: local only)")
	tokenFile := fs.String("gateway-token-file", "", "file holding the gateway's bearer token, readable by you only; the service's "+service.EnvGatewayTokenFile+" (default $"+service.EnvGatewayTokenFile+")")
	home := fs.String("copilot-home", "", "the CLI's home, passed to the collector as "+forwarder.EnvCopilotHome+" (default $"+forwarder.EnvCopilotHome+" when set)")
	noStart := fs.Bool("no-start", false, "write the service file only; start nothing")
	dryRun := fs.Bool("dry-run", false, "print the file and the commands instead of writing and running them")
	force := fs.Bool("force", false, "replace a file at the path that service install did not write")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, cmd, err, pos)
	}
	o, err := serviceOptions()
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if _, err := o.Path(); err != nil { // Windows
		return fail(stderr, cmd, err)
	}
	o.NoStart, o.Force = *noStart, *force
	if o.Collector, err = findCollector(*collector); err != nil {
		return fail(stderr, cmd, err)
	}
	if inTempDir(o.Collector) {
		fmt.Fprintf(stderr, "otelcol-copilot-hook %s: warning: the collector is in a temporary directory (%s); the service will stop working when it is removed: build it where it stays\n", cmd, o.Collector)
	}
	if *gateway == "" {
		*gateway = os.Getenv(service.EnvGateway)
	}
	if *tokenFile == "" {
		*tokenFile = os.Getenv(service.EnvGatewayTokenFile)
	}
	if *gateway != "" {
		if err := service.CheckGateway(*gateway); err != nil {
			return fail(stderr, cmd, fmt.Errorf("--gateway %q: %w", *gateway, err))
		}
		o.Gateway = strings.TrimRight(*gateway, "/")
	}
	if *tokenFile != "" {
		if *gateway == "" {
			return fail(stderr, cmd, errors.New("--gateway-token-file without --gateway: name the gateway the token is for"))
		}
		abs, err := filepath.Abs(*tokenFile)
		if err != nil {
			return fail(stderr, cmd, fmt.Errorf("--gateway-token-file %s: %w", *tokenFile, err))
		}
		warnings, err := service.CheckTokenFile(abs)
		if err != nil {
			return fail(stderr, cmd, fmt.Errorf("--gateway-token-file: %w", err))
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "otelcol-copilot-hook %s: warning: --gateway-token-file: %s\n", cmd, w)
		}
		o.GatewayTokenFile = abs
	}
	// The service does not see the shell's environment: what the installer
	// has set for where the sessions and the state are goes with it.
	if *home != "" {
		abs, err := filepath.Abs(*home)
		if err != nil {
			return fail(stderr, cmd, fmt.Errorf("--copilot-home %s: %w", *home, err))
		}
		o.Env = append(o.Env, service.EnvVar{Name: forwarder.EnvCopilotHome, Value: abs})
	} else if h := os.Getenv(forwarder.EnvCopilotHome); h != "" {
		abs, _ := filepath.Abs(h)
		o.Env = append(o.Env, service.EnvVar{Name: forwarder.EnvCopilotHome, Value: abs})
	}
	if d := os.Getenv(statedir.Env); d != "" {
		o.Env = append(o.Env, service.EnvVar{Name: statedir.Env, Value: o.StateDir})
	}

	runner := serviceRunner()
	if *dryRun {
		runner = service.DryRun{Out: stdout, Next: runner}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := service.Install(ctx, o, runner, !*dryRun, stdout)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	where := "local only"
	if o.Gateway != "" {
		where = "sending to " + o.Gateway + " as well"
	}
	switch {
	case *dryRun:
	case res.Changed:
		fmt.Fprintf(stdout, "wrote %s (%s): it runs %s, %s\n", res.Path, res.Manager, o.Collector, where)
	default:
		fmt.Fprintf(stdout, "%s is already up to date (%s)\n", res.Path, where)
	}
	switch {
	case res.Started && !*dryRun:
		fmt.Fprintf(stdout, "started; it starts at every login and restarts when it fails. See it with: otelcol-copilot-hook status\n")
	case o.NoStart:
		fmt.Fprintf(stdout, "not started (--no-start); to start it now and at every login:\n")
		for _, c := range res.Hint {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
	}
	return 0
}

func serviceUninstall(args []string, stdout, stderr io.Writer) int {
	const cmd = "service uninstall"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "print what would be stopped and removed, and do nothing")
	force := fs.Bool("force", false, "remove the service file even if service install did not write it")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, cmd, err, pos)
	}
	o, err := serviceOptions()
	if err != nil {
		return fail(stderr, cmd, err)
	}
	o.Force = *force
	runner := serviceRunner()
	if *dryRun {
		runner = service.DryRun{Out: stdout, Next: runner}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := service.Uninstall(ctx, o, runner, !*dryRun, stdout)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "otelcol-copilot-hook %s: warning: %s\n", cmd, w)
	}
	switch {
	case !res.Changed:
		fmt.Fprintf(stdout, "%s does not exist; nothing changed\n", res.Path)
	case !*dryRun:
		fmt.Fprintf(stdout, "stopped and removed %s (%s); the collector's state and logs stay where they are\n", res.Path, res.Manager)
	}
	return 0
}

// status says what runs, where it sends and how far behind it is. Exit
// code 0: a collector runs; 3: none does (as systemctl status).
func status(args []string, stdout, stderr io.Writer) int {
	const cmd = "status"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	metricsURL := fs.String("metrics-url", service.DefaultMetricsURL, "the collector's own metrics (service::telemetry::metrics of its configuration)")
	timeout := fs.Duration("timeout", 2*time.Second, "time limit of each question to the service manager and the collector")
	home := fs.String("copilot-home", "", "the CLI's home, for the hooks (default $"+forwarder.EnvCopilotHome+", else ~/.copilot)")
	if pos, err := parse(fs, args); err != nil || pos != "" {
		return usageError(stderr, cmd, err, pos)
	}
	o, err := serviceOptions()
	if err != nil {
		return fail(stderr, cmd, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2**timeout)
	defer cancel()
	client := &http.Client{Timeout: *timeout}
	var st service.Status
	if _, perr := o.Path(); perr != nil { // Windows: no service, the collector may run anyway
		fmt.Fprintf(stdout, "%-10s%v\n", "service", perr)
		st.MetricsURL = *metricsURL
		st.Telemetry, st.MetricsErr = service.Scrape(ctx, client, *metricsURL)
	} else if st, err = service.GetStatus(ctx, o, serviceRunner(), client, *metricsURL); err != nil {
		return fail(stderr, cmd, err)
	}
	st.Format(stdout)
	hooksStatus(stdout, *home)
	if !st.Running() {
		return 3
	}
	return 0
}

// hooksStatus says whether the hooks are installed and what waits in the
// spool.
func hooksStatus(w io.Writer, home string) {
	copilotHome, err := copilotHomeDir(home)
	if err != nil {
		return
	}
	path := forwarder.HookFilePath(copilotHome)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(w, "%-10snot installed (no %s): otelcol-copilot-hook install\n", "hooks", path)
	case err != nil:
		fmt.Fprintf(w, "%-10s%v\n", "hooks", err)
	case !forwarder.Ours(b):
		fmt.Fprintf(w, "%-10s%s exists but was not written by otelcol-copilot-hook install\n", "hooks", path)
	default:
		fmt.Fprintf(w, "%-10s%s\n", "hooks", path)
	}
	cfg, _ := forwarder.Resolve(forwarder.Settings{CopilotHome: copilotHome}, os.Getenv)
	if cfg.SpoolDir == "" {
		return
	}
	spools, err := forwarder.Spools(cfg.SpoolDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(w, "%-10s%s: %v\n", "spool", cfg.SpoolDir, err)
		return
	}
	var s forwarder.Stats
	for _, sp := range spools {
		s.Payloads += sp.Stats.Payloads
		s.Bytes += sp.Stats.Bytes
		s.Dropped += sp.Stats.Dropped
	}
	line := fmt.Sprintf("%d hook payloads waiting for the collector", s.Payloads)
	if s.Payloads > 0 {
		line += fmt.Sprintf(" (%d bytes; otelcol-copilot-hook drain sends them now)", s.Bytes)
	}
	if s.Dropped > 0 {
		line += fmt.Sprintf("; %d dropped over the spool's bounds so far", s.Dropped)
	}
	fmt.Fprintf(w, "%-10s%s\n", "spool", line)
	own := cfg.EndpointSpoolDir()
	for _, sp := range spools {
		if sp.Dir != own && sp.Endpoint != "" && sp.Stats.Payloads > 0 {
			fmt.Fprintf(w, "%-10s%d of them for %s (otelcol-copilot-hook drain --endpoint %s)\n", "", sp.Stats.Payloads, sp.Endpoint, sp.Endpoint)
		}
	}
}

// findCollector is the collector binary: flagValue, else otelcol-copilot
// next to this binary, else on PATH.
func findCollector(flagValue string) (string, error) {
	name := "otelcol-copilot"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	var path string
	if flagValue != "" {
		abs, err := filepath.Abs(flagValue)
		if err != nil {
			return "", fmt.Errorf("--collector %s: %w", flagValue, err)
		}
		path = abs
	} else {
		if exe, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(exe), name); isExecutable(p) {
				return p, nil
			}
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("no %s next to this binary nor on PATH: build it (go build -o ~/.local/bin/otelcol-copilot ./cmd/otelcol-copilot) or name it with --collector", name)
		}
		if path, err = filepath.Abs(p); err != nil {
			return "", err
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--collector %s: %w", path, err)
	}
	if !st.Mode().IsRegular() || !isExecutable(path) {
		return "", fmt.Errorf("--collector %s: not an executable file", path)
	}
	return path, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0
}

func inTempDir(path string) bool {
	rel, err := filepath.Rel(os.TempDir(), path)
	return err == nil && !strings.HasPrefix(rel, "..")
}

// pathHint prints the lines that put the hook binary's directory on
// PATH, when it is not there: the hooks run it by its full path, but a
// person or a script of their own calls it by name.
func pathHint(w io.Writer, bin string) {
	if p, err := exec.LookPath(filepath.Base(bin)); err == nil {
		if a, err1 := os.Stat(p); err1 == nil {
			if b, err2 := os.Stat(bin); err2 == nil && os.SameFile(a, b) {
				return
			}
		}
	}
	dir := filepath.Dir(bin)
	if service.OnPath(dir, os.Getenv("PATH"), runtime.GOOS) {
		return
	}
	home, _ := os.UserHomeDir()
	fmt.Fprintf(w, "%s is not on your PATH: the hooks run %s by its full path, but to run %s by name add this line to your shell's profile:\n",
		dir, filepath.Base(bin), filepath.Base(bin))
	for _, l := range service.PathLines(dir, home, runtime.GOOS) {
		fmt.Fprintf(w, "  %-45s %s\n", l[0]+":", l[1])
	}
}
