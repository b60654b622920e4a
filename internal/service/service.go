// Package service installs, removes and inspects the collector as a
// per-user service: a systemd user unit on Linux, a launchd agent on
// macOS. Every call to the service manager (systemctl, launchctl) goes
// through a Runner, so that tests and --dry-run need neither. It depends
// on the standard library only: otelcol-copilot-hook, which starts at
// every hook, links it.
package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"
)

// The environment variables the collector's embedded default
// configuration reads to send everything to a gateway as well.
const (
	EnvGateway          = "OTELCOL_COPILOT_GATEWAY"
	EnvGatewayTokenFile = "OTELCOL_COPILOT_GATEWAY_TOKEN_FILE"
)

// The names of what Install writes.
const (
	// UnitName is the systemd user unit.
	UnitName = "otelcol-copilot.service"
	// Label is the launchd agent's label; its plist is
	// ~/Library/LaunchAgents/<Label>.plist.
	Label = "com.github.otelcol-copilot.collector"
	// LogName is the launchd agent's log file, in the state directory.
	LogName = "collector.log"
	// marker is in every file Install writes: Uninstall removes no file
	// without it unless forced.
	marker = "Written by otelcol-copilot-hook service install"
)

// Command is one call to the service manager.
type Command struct {
	Name string
	Args []string
	// ReadOnly commands only ask (systemctl show, launchctl print):
	// --dry-run runs them.
	ReadOnly bool
}

// String is the command as a shell would take it.
func (c Command) String() string {
	parts := []string{c.Name}
	for _, a := range c.Args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// Runner runs the service manager's commands. Run returns the command's
// standard output, and an error holding its error output when it fails.
// Install, Uninstall and Status call it from one goroutine, in order.
type Runner interface {
	Run(ctx context.Context, c Command) (string, error)
}

// ExecRunner runs the commands.
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Command) (string, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg != "" {
			return stdout.String(), fmt.Errorf("%s: %w: %s", c, err, msg)
		}
		return stdout.String(), fmt.Errorf("%s: %w", c, err)
	}
	return stdout.String(), nil
}

// DryRun prints the commands that would change something instead of
// running them; it runs the read-only ones with Next (nil: none, as if
// the service were not loaded).
type DryRun struct {
	Out  io.Writer
	Next Runner
}

// Run implements Runner.
func (d DryRun) Run(ctx context.Context, c Command) (string, error) {
	if c.ReadOnly {
		if d.Next == nil {
			return "", errors.New("dry run")
		}
		return d.Next.Run(ctx, c)
	}
	fmt.Fprintf(d.Out, "would run: %s\n", c)
	return "", nil
}

// Options say what to install, and where.
type Options struct {
	// OS is the target system: linux (and other Unix systems but macOS:
	// systemd), darwin (launchd); windows is refused. Default runtime.GOOS.
	OS string
	// Home is the user's home directory.
	Home string
	// UID is the user's id, for launchd's gui/<uid> domain.
	UID int
	// Collector is the collector binary's absolute path.
	Collector string
	// Gateway is the OTLP/HTTP base URL of a gateway ("": local only).
	Gateway string
	// GatewayTokenFile is the absolute path of the gateway's bearer token.
	GatewayTokenFile string
	// StateDir is the per-user state directory: the launchd agent logs to
	// collector.log there.
	StateDir string
	// Env is more of the collector's environment (COPILOT_HOME,
	// OTELCOL_COPILOT_STATE_DIR when the installer has them).
	Env []EnvVar
	// NoStart writes the files and runs nothing.
	NoStart bool
	// Force replaces or removes a file at the path that Install did not write.
	Force bool
}

// EnvVar is one variable of the collector's environment.
type EnvVar struct{ Name, Value string }

func (o Options) goos() string {
	if o.OS != "" {
		return o.OS
	}
	return runtime.GOOS
}

// ErrUnsupported is returned on systems with no service manager support.
var ErrUnsupported = errors.New("running otelcol-copilot as a service is not supported on Windows yet: " +
	"start it at logon with the Task Scheduler (schtasks /Create /SC ONLOGON /TN otelcol-copilot /TR \"<path>\\otelcol-copilot.exe\"), " +
	"or run otelcol-copilot in a terminal")

// manager is what differs between systemd and launchd.
type manager interface {
	// kind names the manager and the file, for messages.
	kind() string
	path() string
	render() ([]byte, error)
	// start makes the manager run the service from the file just written
	// (changed) or unchanged.
	start(ctx context.Context, r Runner, changed bool) error
	// startHint is what to run by hand after --no-start.
	startHint() []Command
	// stop stops the service and makes the manager forget it; the file is
	// still there.
	stop(ctx context.Context, r Runner) error
	// forget runs after the file is removed.
	forget(ctx context.Context, r Runner) error
	status(ctx context.Context, r Runner) State
	// parse reads the collector, gateway and token file from a file render wrote.
	parse(b []byte) (Installed, error)
}

func (o Options) manager() (manager, error) {
	switch o.goos() {
	case "windows":
		return nil, ErrUnsupported
	case "darwin":
		return launchd{o}, nil
	}
	return systemd{o}, nil
}

// Path is the file Install writes for this system.
func (o Options) Path() (string, error) {
	m, err := o.manager()
	if err != nil {
		return "", err
	}
	return m.path(), nil
}

// Render is the file Install would write.
func (o Options) Render() (path string, content []byte, err error) {
	m, err := o.manager()
	if err != nil {
		return "", nil, err
	}
	if err := o.check(); err != nil {
		return "", nil, err
	}
	b, err := m.render()
	return m.path(), b, err
}

func (o Options) check() error {
	if o.Home == "" || !filepath.IsAbs(o.Home) {
		return fmt.Errorf("home directory %q is not an absolute path: set HOME", o.Home)
	}
	if o.Collector == "" || !filepath.IsAbs(o.Collector) {
		return fmt.Errorf("--collector %q: must be an absolute path", o.Collector)
	}
	vals := []EnvVar{{"--collector", o.Collector}, {"--gateway", o.Gateway}, {"--gateway-token-file", o.GatewayTokenFile}, {"state directory", o.StateDir}}
	vals = append(vals, o.Env...)
	for _, v := range vals {
		if !utf8.ValidString(v.Value) || strings.ContainsFunc(v.Value, badRune) {
			return fmt.Errorf("%s %q: holds a control character (a newline?) or invalid UTF-8, which a service file cannot carry", v.Name, v.Value)
		}
	}
	return nil
}

// badRune: a character a unit file or a plist (XML 1.0) cannot carry.
func badRune(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF || r > 0x10FFFF
}

// env is the collector's environment in the service: the gateway and its
// token file, then Env.
func (o Options) env() []EnvVar {
	var env []EnvVar
	if o.Gateway != "" {
		env = append(env, EnvVar{EnvGateway, o.Gateway})
	}
	if o.GatewayTokenFile != "" {
		env = append(env, EnvVar{EnvGatewayTokenFile, o.GatewayTokenFile})
	}
	return append(env, o.Env...)
}

// Result says what Install or Uninstall did.
type Result struct {
	// Manager is "systemd user unit" or "launchd agent".
	Manager string
	Path    string
	// Changed: the file was written (or removed); false when it already
	// was as asked.
	Changed bool
	// Started: the service manager was asked to run it.
	Started bool
	// Hint is what to run by hand after NoStart.
	Hint []Command
	// Warnings are what went wrong without failing the whole.
	Warnings []string
}

// Install writes the service file and, unless NoStart, makes the service
// manager run the collector now and at every login. Running it again with
// the same options changes nothing and makes sure the service runs; with
// other options it rewrites the file and restarts the service.
// With a DryRun runner, write is false: the file is printed, not written.
func Install(ctx context.Context, o Options, r Runner, write bool, out io.Writer) (Result, error) {
	m, err := o.manager()
	if err != nil {
		return Result{}, err
	}
	if err := o.check(); err != nil {
		return Result{}, err
	}
	res := Result{Manager: m.kind(), Path: m.path()}
	want, err := m.render()
	if err != nil {
		return res, err
	}
	old, err := os.ReadFile(res.Path)
	switch {
	case err == nil:
		res.Changed = !bytes.Equal(old, want)
		if res.Changed && !o.Force && !bytes.Contains(old, []byte(marker)) {
			return res, fmt.Errorf("%s exists and was not written by otelcol-copilot-hook service install: move it away or use --force to replace it", res.Path)
		}
	case errors.Is(err, fs.ErrNotExist):
		res.Changed = true
	default:
		return res, fmt.Errorf("reading %s: %w", res.Path, err)
	}
	if !write {
		fmt.Fprintf(out, "would write %s:\n%s\n", res.Path, want)
	} else if res.Changed {
		if err := writeFile(res.Path, want); err != nil {
			return res, err
		}
	}
	if m.kind() == launchdKind && write && o.StateDir != "" {
		// launchd opens the log file but does not create its directory.
		if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
			return res, fmt.Errorf("creating the state directory %s for the log: %w", o.StateDir, err)
		}
	}
	if o.NoStart {
		res.Hint = m.startHint()
		return res, nil
	}
	if err := m.start(ctx, r, res.Changed); err != nil {
		return res, err
	}
	res.Started = true
	return res, nil
}

// Uninstall stops the service, makes the service manager forget it and
// removes its file. Without a file it does nothing; it leaves a file it
// did not write unless Force. With a DryRun runner and write false, it
// removes nothing.
func Uninstall(ctx context.Context, o Options, r Runner, write bool, out io.Writer) (Result, error) {
	m, err := o.manager()
	if err != nil {
		return Result{}, err
	}
	res := Result{Manager: m.kind(), Path: m.path()}
	old, err := os.ReadFile(res.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("reading %s: %w", res.Path, err)
	}
	if !o.Force && !bytes.Contains(old, []byte(marker)) {
		return res, fmt.Errorf("%s was not written by otelcol-copilot-hook service install: leaving it (use --force to remove it anyway)", res.Path)
	}
	if err := m.stop(ctx, r); err != nil {
		// The file goes anyway: at the next login the manager will not
		// start what is not there.
		res.Warnings = append(res.Warnings, fmt.Sprintf("could not stop the service: %v", err))
	}
	if !write {
		fmt.Fprintf(out, "would remove %s\n", res.Path)
	} else if err := os.Remove(res.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("removing %s: %w", res.Path, err)
	}
	res.Changed = true
	if err := m.forget(ctx, r); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	return res, nil
}

// Installed is what an installed service file says.
type Installed struct {
	Path             string
	Collector        string
	Gateway          string
	GatewayTokenFile string
	// Ours: Install wrote the file.
	Ours bool
}

// ReadInstalled reads the service file; ok is false when there is none.
func ReadInstalled(o Options) (inst Installed, ok bool, err error) {
	m, err := o.manager()
	if err != nil {
		return inst, false, err
	}
	b, err := os.ReadFile(m.path())
	if errors.Is(err, fs.ErrNotExist) {
		return Installed{Path: m.path()}, false, nil
	}
	if err != nil {
		return Installed{Path: m.path()}, false, err
	}
	inst, err = m.parse(b)
	inst.Path = m.path()
	inst.Ours = bytes.Contains(b, []byte(marker))
	return inst, true, err
}

func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".otelcol-copilot-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// CheckGateway checks a gateway's OTLP/HTTP base URL: http or https with a
// host, https unless the host is a loopback address, no credentials, query
// or fragment.
func CheckGateway(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http(s) URL such as https://gateway.example:4318")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("has no host: give the gateway's OTLP/HTTP base URL, such as https://gateway.example:4318")
	}
	if u.User != nil {
		return errors.New("holds credentials: put the gateway's bearer token in a file and name it with --gateway-token-file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("has a query or fragment: give the OTLP/HTTP base URL only (the collector adds /v1/logs, /v1/metrics, /v1/traces)")
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("sends usage and a bearer token in clear text to %s: use https (http is accepted for a loopback address only)", u.Hostname())
	}
	return nil
}

// IsLoopback tells whether a host name is this machine: localhost or a
// loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckTokenFile checks the gateway's token file: it must be a regular
// file that not every user of the machine can read. It returns warnings
// for what works but should not be (readable by the group, empty).
func CheckTokenFile(path string) (warnings []string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: write the gateway's bearer token to it first (and chmod 600 it)", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if runtime.GOOS != "windows" {
		perm := st.Mode().Perm()
		if perm&0o004 != 0 {
			return nil, fmt.Errorf("%s is readable by every user of this machine (mode %#o): chmod 600 %s", path, perm, shellQuote(path))
		}
		if perm&0o040 != 0 {
			warnings = append(warnings, fmt.Sprintf("%s is readable by its group (mode %#o): chmod 600 %s unless that is meant", path, perm, shellQuote(path)))
		}
	}
	if st.Size() == 0 {
		warnings = append(warnings, fmt.Sprintf("%s is empty: the gateway will refuse the collector until it holds the token", path))
	}
	return warnings, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
