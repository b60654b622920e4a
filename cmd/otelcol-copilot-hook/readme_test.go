package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
)

// TestReadmeEvalExamples runs every `eval "$(... usage ...)"` line of the
// READMEs as written, in bash, with the hook binary where the READMEs
// build it ($HOME/.local/bin) and that directory not on PATH: they must
// not depend on PATH.
func TestReadmeEvalExamples(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the examples are for a POSIX shell")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("the README examples need bash: %v", err)
	}
	var lines []string
	for _, readme := range []string{"README.md", filepath.Join("..", "..", "README.md")} {
		b, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, `eval "$(`) && strings.Contains(l, " usage ") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) < 3 {
		t.Fatalf("found %d eval examples in the READMEs, want at least 3: %q", len(lines), lines)
	}

	base := filepath.Join(testdata(t), "1.0.102-billed", "session-state")
	ents, err := os.ReadDir(base)
	if err != nil || len(ents) == 0 {
		t.Fatal(err)
	}
	id := ents[0].Name()
	want := fullUsage(t, filepath.Join(base, id, "events.jsonl"), id)

	home := t.TempDir()
	bin := filepath.Join(home, ".local", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if err := os.Symlink(exe, filepath.Join(bin, "otelcol-copilot-hook")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(bash) + ":/usr/bin:/bin"
	for _, l := range lines {
		cmd := exec.Command(bash, "-c", l+"\n"+`echo "$COPILOT_SESSION_ID $COPILOT_SESSION_AI_CREDITS"`)
		cmd.Env = []string{"PATH=" + path, "HOME=" + home, "COPILOT_HOME=" + filepath.Dir(base), "SESSION_ID=" + id,
			"OTELCOL_COPILOT_STATE_DIR=" + t.TempDir(), "OTELCOL_COPILOT_HOOK_TEST_RUN_MAIN=1"}
		out, err := cmd.CombinedOutput()
		if got, wantOut := strings.TrimSpace(string(out)), id+" "+forwarder.Credits(want.TotalNanoAIU); err != nil || got != wantOut {
			t.Errorf("%s\nwith %s not on PATH: %v, printed %q, want %q", l, bin, err, got, wantOut)
		}
	}
}
