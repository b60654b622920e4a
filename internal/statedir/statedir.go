// Package statedir names the per-user directory where otelcol-copilot
// keeps its state: the collector's checkpoints and the hook forwarder's
// spool and usage caches. It depends on the standard library only, so
// that the forwarder, which starts at every hook, stays small.
package statedir

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
)

// Env overrides the directory.
const Env = "OTELCOL_COPILOT_STATE_DIR"

// Dir is the per-user directory for the collector's state:
// $OTELCOL_COPILOT_STATE_DIR; else $XDG_STATE_HOME/otelcol-copilot or
// ~/.local/state/otelcol-copilot on Linux and other Unix systems,
// ~/Library/Application Support/otelcol-copilot on macOS, and
// %LocalAppData%\otelcol-copilot on Windows.
func Dir() (string, error) {
	if d := os.Getenv(Env); d != "" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "otelcol-copilot"), nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "otelcol-copilot"), nil
		}
	default:
		if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "otelcol-copilot"), nil
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "state", "otelcol-copilot"), nil
		}
	}
	return "", errors.New("no directory for the collector's state: set " + Env + " (or HOME)")
}

// EnvCopilotHome is where Copilot CLI keeps its sessions and hooks.
const EnvCopilotHome = "COPILOT_HOME"

// CopilotHome is Copilot CLI's home: $COPILOT_HOME, else ~/.copilot.
// getenv reads the environment (nil: os.Getenv).
func CopilotHome(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if h := getenv(EnvCopilotHome); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".copilot"), nil
}

// User is the account this process runs as: its user name, else $USER,
// $USERNAME or $LOGNAME; "" when none is known. The collector reports it
// as the user of the sessions it reads (session_state.user) and the
// report attributes local spend to it, so both must name it alike.
func User() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}
