package service

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSystemdAnalyzeVerify has systemd itself read the unit Install
// writes: `systemd-analyze --user verify` warns about unknown keys, values
// it cannot parse and an ExecStart that is not executable. The collector's
// path holds a space, % and $, which the unit must quote.
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if requireSystemd || os.Getenv("CI") != "" {
			t.Fatalf("systemd-analyze is not installed (%v): apt-get install -y systemd", err)
		}
		t.Skipf("systemd-analyze is not installed: the unit was not verified (go test -tags systemd requires it)")
	}
	o := testOptions(t, "linux")
	if _, err := Install(context.Background(), o, &fakeRunner{}, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	path, _ := o.Path()
	verify := func(path string) string {
		cmd := exec.Command(bin, "--user", "verify", path)
		// The user manager's runtime directory, which a CI container has not.
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "HOME="+o.Home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return strings.TrimSpace(string(out)) + " (" + err.Error() + ")"
		}
		return strings.TrimSpace(string(out))
	}
	if out := verify(path); out != "" {
		t.Fatalf("systemd-analyze verify %s:\n%s", path, out)
	}

	// The check can fail: a unit with a bad value and a missing binary.
	b, _ := os.ReadFile(path)
	bad := strings.Replace(string(b), "Restart=on-failure", "Restart=sometimes", 1)
	bad = strings.Replace(bad, "ExecStart=\"", "ExecStart=\"/nonexistent", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out := verify(path)
	if !strings.Contains(out, "sometimes") || !strings.Contains(out, "nonexistent") {
		t.Errorf("systemd-analyze verify missed the broken unit's faults:\n%s", out)
	}
}
