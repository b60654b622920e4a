package service

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

const launchdKind = "launchd agent"

// launchd installs a launchd agent in the user's GUI domain.
type launchd struct{ o Options }

func (launchd) kind() string { return launchdKind }

func (l launchd) path() string {
	return filepath.Join(l.o.Home, "Library", "LaunchAgents", Label+".plist")
}

func (l launchd) domain() string  { return "gui/" + strconv.Itoa(l.o.UID) }
func (l launchd) service() string { return l.domain() + "/" + Label }

func launchctl(readOnly bool, args ...string) Command {
	return Command{Name: "launchctl", Args: args, ReadOnly: readOnly}
}

// logPath is where the agent's standard output and error go.
func (l launchd) logPath() string {
	dir := l.o.StateDir
	if dir == "" {
		dir = filepath.Join(l.o.Home, "Library", "Application Support", "otelcol-copilot")
	}
	return filepath.Join(dir, LogName)
}

func (l launchd) render() ([]byte, error) {
	var b bytes.Buffer
	str := func(indent, s string) {
		b.WriteString(indent + "<string>")
		xml.EscapeText(&b, []byte(s)) //nolint:errcheck // a bytes.Buffer does not fail
		b.WriteString("</string>\n")
	}
	key := func(indent, s string) {
		b.WriteString(indent + "<key>")
		xml.EscapeText(&b, []byte(s)) //nolint:errcheck
		b.WriteString("</key>\n")
	}
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	fmt.Fprintf(&b, "<!-- %s; otelcol-copilot-hook service uninstall removes it. -->\n", marker)
	b.WriteString(`<plist version="1.0">` + "\n<dict>\n")
	key("\t", "Label")
	str("\t", Label)
	key("\t", "ProgramArguments")
	b.WriteString("\t<array>\n")
	str("\t\t", l.o.Collector)
	b.WriteString("\t</array>\n")
	key("\t", "EnvironmentVariables")
	b.WriteString("\t<dict>\n")
	for _, e := range l.o.env() {
		key("\t\t", e.Name)
		str("\t\t", e.Value)
	}
	b.WriteString("\t</dict>\n")
	key("\t", "RunAtLoad")
	b.WriteString("\t<true/>\n")
	// Restart when it exits with a failure, not when it was stopped.
	key("\t", "KeepAlive")
	b.WriteString("\t<dict>\n")
	key("\t\t", "SuccessfulExit")
	b.WriteString("\t\t<false/>\n")
	b.WriteString("\t</dict>\n")
	key("\t", "ThrottleInterval")
	b.WriteString("\t<integer>10</integer>\n")
	key("\t", "ProcessType")
	str("\t", "Background")
	key("\t", "StandardOutPath")
	str("\t", l.logPath())
	key("\t", "StandardErrorPath")
	str("\t", l.logPath())
	b.WriteString("</dict>\n</plist>\n")
	return b.Bytes(), nil
}

func (l launchd) parse(b []byte) (Installed, error) {
	var inst Installed
	v, err := ParsePlist(bytes.NewReader(b))
	if err != nil {
		return inst, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return inst, fmt.Errorf("%s: the plist is not a dictionary", l.path())
	}
	if args, ok := d["ProgramArguments"].([]any); ok && len(args) > 0 {
		inst.Collector, _ = args[0].(string)
	}
	if env, ok := d["EnvironmentVariables"].(map[string]any); ok {
		inst.Gateway, _ = env[EnvGateway].(string)
		inst.GatewayTokenFile, _ = env[EnvGatewayTokenFile].(string)
	}
	return inst, nil
}

func (l launchd) loaded(ctx context.Context, r Runner) bool {
	_, err := r.Run(ctx, launchctl(true, "print", l.service()))
	return err == nil
}

func (l launchd) start(ctx context.Context, r Runner, changed bool) error {
	loaded := l.loaded(ctx, r)
	var cmds []Command
	if loaded && changed {
		// launchd reads the plist when it is bootstrapped only.
		cmds = append(cmds, launchctl(false, "bootout", l.service()))
		loaded = false
	}
	cmds = append(cmds, launchctl(false, "enable", l.service()))
	if loaded {
		cmds = append(cmds, launchctl(false, "kickstart", l.service()))
	} else {
		cmds = append(cmds, launchctl(false, "bootstrap", l.domain(), l.path()))
	}
	for _, c := range cmds {
		if _, err := r.Run(ctx, c); err != nil {
			return fmt.Errorf("%w\n(the agent's plist is written; launchctl needs your GUI login session: run `%s` from a terminal of that session)", err, c)
		}
	}
	return nil
}

func (l launchd) startHint() []Command {
	return []Command{launchctl(false, "enable", l.service()), launchctl(false, "bootstrap", l.domain(), l.path())}
}

func (l launchd) stop(ctx context.Context, r Runner) error {
	if !l.loaded(ctx, r) {
		return nil
	}
	_, err := r.Run(ctx, launchctl(false, "bootout", l.service()))
	return err
}

func (l launchd) forget(context.Context, Runner) error { return nil }

func (l launchd) status(ctx context.Context, r Runner) State {
	st := State{Manager: launchdKind, Path: l.path(), Logs: l.logPath()}
	out, err := r.Run(ctx, launchctl(true, "print", l.service()))
	if err != nil {
		// launchctl print fails for a service that is not loaded.
		st.Detail = "not loaded"
		return st
	}
	st.Loaded = true
	state, lastExit := "", ""
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if !ok {
			continue
		}
		switch k {
		case "state":
			if state == "" {
				state = v
			}
		case "pid":
			if st.PID == 0 {
				st.PID, _ = strconv.Atoi(v)
			}
		case "last exit code":
			if v != "0" && v != "(never exited)" {
				lastExit = "last exit code " + v
			}
		}
	}
	st.Active = state == "running"
	st.Detail = state
	if lastExit != "" {
		st.Detail += ", " + lastExit
	}
	return st
}
