package forwarder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
)

// HookFileName is the name of the user-level hook file Install writes in
// $COPILOT_HOME/hooks/, which the CLI reads for every repository.
const HookFileName = "otelcol-copilot.json"

// GeneratedBy is the value of the "_generatedBy" member that marks a hook
// file as written by Install. The CLI ignores members it does not know.
const GeneratedBy = "otelcol-copilot-hook install"

// DefaultHookTimeoutSec is the timeoutSec of the installed hooks: a safety
// net, the forwarder itself gives up long before.
const DefaultHookTimeoutSec = 5

// hookCommand is one command hook in the CLI's format.
type hookCommand struct {
	Type       string `json:"type"`
	Bash       string `json:"bash"`
	PowerShell string `json:"powershell"`
	TimeoutSec int    `json:"timeoutSec"`
}

type hookFile struct {
	Version     int                      `json:"version"`
	GeneratedBy string                   `json:"_generatedBy,omitempty"`
	Hooks       map[string][]hookCommand `json:"hooks"`
}

// InstallOptions configure Install.
type InstallOptions struct {
	// CopilotHome is the CLI's home (~/.copilot); the file goes in its
	// hooks directory.
	CopilotHome string
	// Binary is the absolute path of otelcol-copilot-hook.
	Binary string
	// Args are passed to every forward after the hook type, e.g.
	// ["--endpoint", "http://127.0.0.1:4320"].
	Args []string
	// TimeoutSec is each hook's timeoutSec; 0 means DefaultHookTimeoutSec.
	TimeoutSec int
	// Force overwrites a file at the path that Install did not write.
	Force bool
}

// HookFilePath is where Install writes the hook file.
func HookFilePath(copilotHome string) string {
	return filepath.Join(copilotHome, "hooks", HookFileName)
}

// HookConfig returns the hook file: one command hook per hook type, each
// running binary forward <type> args.
func HookConfig(binary string, args []string, timeoutSec int) ([]byte, error) {
	if !filepath.IsAbs(binary) {
		return nil, fmt.Errorf("the forwarder's path %q is not absolute", binary)
	}
	if timeoutSec <= 0 {
		timeoutSec = DefaultHookTimeoutSec
	}
	f := hookFile{Version: 1, GeneratedBy: GeneratedBy, Hooks: map[string][]hookCommand{}}
	for _, t := range hook.Types {
		words := append([]string{"forward", t}, args...)
		f.Hooks[t] = []hookCommand{{
			Type:       "command",
			Bash:       ShellQuote(binary) + " " + shellWords(words, ShellQuote),
			PowerShell: "& " + PowerShellQuote(binary) + " " + shellWords(words, PowerShellQuote),
			TimeoutSec: timeoutSec,
		}}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Install writes the hook file. It reports whether the file changed: a
// second install with the same options leaves it as it was. It refuses to
// replace a file it did not write unless Force is set, and touches no other
// hook file.
func Install(o InstallOptions) (path string, changed bool, err error) {
	if o.CopilotHome == "" {
		return "", false, errors.New("no Copilot home: set --copilot-home or " + EnvCopilotHome)
	}
	path = HookFilePath(o.CopilotHome)
	want, err := HookConfig(o.Binary, o.Args, o.TimeoutSec)
	if err != nil {
		return path, false, err
	}
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if bytes.Equal(old, want) {
			return path, false, nil
		}
		if !o.Force && !Ours(old) {
			return path, false, fmt.Errorf("%s exists and was not written by otelcol-copilot-hook install; move it away or use --force to replace it", path)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return path, false, fmt.Errorf("reading %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return path, false, fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp := fmt.Sprintf("%s%s-%d", tmpPrefix, HookFileName, os.Getpid())
	if err := writeFileAtomic(dir, tmp, HookFileName, want, 0o644); err != nil {
		return path, false, fmt.Errorf("writing %s: %w", path, err)
	}
	return path, true, nil
}

// Uninstall removes the hook file Install wrote. It reports whether there
// was one; a file at the path that Install did not write is left alone
// unless force is set.
func Uninstall(copilotHome string, force bool) (path string, removed bool, err error) {
	if copilotHome == "" {
		return "", false, errors.New("no Copilot home: set --copilot-home or " + EnvCopilotHome)
	}
	path = HookFilePath(copilotHome)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, false, nil
	}
	if err != nil {
		return path, false, fmt.Errorf("reading %s: %w", path, err)
	}
	if !force && !Ours(old) {
		return path, false, fmt.Errorf("%s was not written by otelcol-copilot-hook install; leaving it (use --force to remove it anyway)", path)
	}
	if err := os.Remove(path); err != nil {
		return path, false, err
	}
	return path, true, nil
}

// Ours reports whether a hook file was written by Install.
func Ours(b []byte) bool {
	var f struct {
		GeneratedBy string `json:"_generatedBy"`
	}
	return json.Unmarshal(b, &f) == nil && f.GeneratedBy == GeneratedBy
}

func shellWords(words []string, quote func(string) string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if plainWord(w) {
			out[i] = w
		} else {
			out[i] = quote(w)
		}
	}
	return strings.Join(out, " ")
}

// plainWord reports whether a word means the same unquoted to bash and to
// PowerShell.
func plainWord(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return w[0] != '-' || strings.HasPrefix(w, "--") && !strings.Contains(w, "=")
}

// ShellQuote quotes s for a POSIX shell: in single quotes, where a single
// quote is written by closing the quotes, an escaped quote, and reopening.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PowerShellQuote quotes s for PowerShell: single quotes, with each single
// quote doubled (PowerShell also takes the typographic single quotes as
// quotes, so they are doubled too).
func PowerShellQuote(s string) string {
	r := strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")
	return "'" + r.Replace(s) + "'"
}
