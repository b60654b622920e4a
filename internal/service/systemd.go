package service

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

const systemdKind = "systemd user unit"

// systemd installs a systemd user unit.
type systemd struct{ o Options }

func (systemd) kind() string { return systemdKind }

func (s systemd) path() string {
	return filepath.Join(s.o.Home, ".config", "systemd", "user", UnitName)
}

func systemctl(readOnly bool, args ...string) Command {
	return Command{Name: "systemctl", Args: append([]string{"--user"}, args...), ReadOnly: readOnly}
}

func (s systemd) render() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s; otelcol-copilot-hook service uninstall removes it.\n", marker)
	b.WriteString("# Logs: journalctl --user -u otelcol-copilot\n")
	b.WriteString("[Unit]\n")
	b.WriteString("Description=otelcol-copilot: GitHub Copilot CLI usage and spend\n")
	b.WriteString("Documentation=https://github.com/otelcol-copilot/otelcol-copilot\n")
	// Restart on failure, but give up on a collector that cannot start
	// (a bad flag, a port taken) after 10 tries in 5 minutes.
	b.WriteString("StartLimitIntervalSec=300\n")
	b.WriteString("StartLimitBurst=10\n")
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=exec\n")
	fmt.Fprintf(&b, "ExecStart=%s\n", systemdQuote(s.o.Collector))
	for _, e := range s.o.env() {
		fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(e.Name+"="+e.Value))
	}
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=5s\n")
	b.WriteString("\n[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return b.Bytes(), nil
}

// systemdQuote quotes the executable of ExecStart= or a value of
// Environment=: in double quotes, backslashes and quotes escaped, %
// doubled (specifiers). Neither expands $ (ExecStart= does in its
// arguments only, and there are none).
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%")
	return `"` + r.Replace(s) + `"`
}

// systemdUnquote reverses systemdQuote.
func systemdUnquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case s[i] == '%' && i+1 < len(s) && s[i+1] == '%':
			i++
			b.WriteByte('%')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func (s systemd) parse(b []byte) (Installed, error) {
	var inst Installed
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "ExecStart":
			inst.Collector = systemdUnquote(v)
		case "Environment":
			name, val, _ := strings.Cut(systemdUnquote(v), "=")
			switch name {
			case EnvGateway:
				inst.Gateway = val
			case EnvGatewayTokenFile:
				inst.GatewayTokenFile = val
			}
		}
	}
	return inst, sc.Err()
}

func (s systemd) start(ctx context.Context, r Runner, changed bool) error {
	cmds := []Command{systemctl(false, "daemon-reload"), systemctl(false, "enable", UnitName)}
	if changed {
		// A running collector must take the new file.
		cmds = append(cmds, systemctl(false, "restart", UnitName))
	} else {
		cmds = append(cmds, systemctl(false, "start", UnitName))
	}
	for _, c := range cmds {
		if _, err := r.Run(ctx, c); err != nil {
			return fmt.Errorf("%w\n(the unit is written; systemctl --user needs your login session's user manager: "+
				"over ssh or in a container, run `loginctl enable-linger $USER` and log in again, then `%s`)", err, c)
		}
	}
	return nil
}

func (s systemd) startHint() []Command {
	return []Command{systemctl(false, "daemon-reload"), systemctl(false, "enable", "--now", UnitName)}
}

func (s systemd) stop(ctx context.Context, r Runner) error {
	_, err := r.Run(ctx, systemctl(false, "disable", "--now", UnitName))
	return err
}

func (s systemd) forget(ctx context.Context, r Runner) error {
	if _, err := r.Run(ctx, systemctl(false, "daemon-reload")); err != nil {
		return err
	}
	// A unit that had failed stays listed until reset; it may not be.
	r.Run(ctx, systemctl(false, "reset-failed", UnitName)) //nolint:errcheck
	return nil
}

func (s systemd) status(ctx context.Context, r Runner) State {
	st := State{Manager: systemdKind, Path: s.path()}
	out, err := r.Run(ctx, systemctl(true, "show", UnitName, "--property=LoadState,ActiveState,SubState,MainPID,NRestarts,UnitFileState"))
	if err != nil {
		st.Err = fmt.Errorf("%w (systemctl --user needs your login session's user manager; over ssh or in a container: loginctl enable-linger $USER)", err)
		return st
	}
	p := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			p[k] = v
		}
	}
	st.Loaded = p["LoadState"] == "loaded"
	st.Active = p["ActiveState"] == "active"
	st.Detail = p["ActiveState"]
	if sub := p["SubState"]; sub != "" {
		st.Detail += " (" + sub + ")"
	}
	if f := p["UnitFileState"]; f != "" {
		st.Detail += ", " + f
	}
	st.PID, _ = strconv.Atoi(p["MainPID"])
	if n, err := strconv.Atoi(p["NRestarts"]); err == nil && n > 0 {
		st.Detail += fmt.Sprintf(", restarted %d times", n)
	}
	st.Logs = "journalctl --user -u otelcol-copilot"
	return st
}
