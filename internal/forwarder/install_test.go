package forwarder

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

func TestInstall(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".copilot")
	bin := "/opt/otelcol copilot/it's/otelcol-copilot-hook"
	opts := InstallOptions{CopilotHome: home, Binary: bin, Args: []string{"--endpoint", "http://127.0.0.1:4320", "--token-file", "/etc/x y/token"}, TimeoutSec: 7}

	// Another hook file, which install must leave alone.
	other := filepath.Join(home, "hooks", "team.json")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(`{"version":1,"hooks":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	path, changed, err := Install(opts)
	if err != nil || !changed || path != filepath.Join(home, "hooks", HookFileName) {
		t.Fatalf("%s %t %v", path, changed, err)
	}
	first, _ := os.ReadFile(path)
	_, changed, err = Install(opts)
	if err != nil || changed {
		t.Fatalf("second install: changed %t %v", changed, err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Fatal("second install changed the file")
	}

	var f struct {
		Version     int    `json:"version"`
		GeneratedBy string `json:"_generatedBy"`
		Hooks       map[string][]map[string]any
	}
	if err := json.Unmarshal(first, &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || f.GeneratedBy != GeneratedBy || len(f.Hooks) != len(hook.Types) {
		t.Fatalf("%+v", f)
	}
	for _, typ := range hook.Types {
		h := f.Hooks[typ]
		if len(h) != 1 || h[0]["type"] != "command" || h[0]["timeoutSec"] != 7.0 {
			t.Fatalf("%s: %v", typ, h)
		}
		bash := h[0]["bash"].(string)
		want := `'/opt/otelcol copilot/it'\''s/otelcol-copilot-hook' forward ` + typ + ` --endpoint 'http://127.0.0.1:4320' --token-file '/etc/x y/token'`
		if bash != want {
			t.Errorf("%s bash:\n%s\nwant\n%s", typ, bash, want)
		}
		ps := h[0]["powershell"].(string)
		wantPS := `& '/opt/otelcol copilot/it''s/otelcol-copilot-hook' forward ` + typ + ` --endpoint 'http://127.0.0.1:4320' --token-file '/etc/x y/token'`
		if ps != wantPS {
			t.Errorf("%s powershell:\n%s\nwant\n%s", typ, ps, wantPS)
		}
	}
	if b, _ := os.ReadFile(other); string(b) != `{"version":1,"hooks":{}}` {
		t.Error("install touched another hook file")
	}

	// New options: our file is replaced.
	opts.TimeoutSec = 9
	if _, changed, err := Install(opts); err != nil || !changed {
		t.Fatalf("changed %t %v", changed, err)
	}

	// Uninstall removes our file only, once.
	if _, removed, err := Uninstall(home, false); err != nil || !removed {
		t.Fatalf("removed %t %v", removed, err)
	}
	if _, removed, err := Uninstall(home, false); err != nil || removed {
		t.Fatalf("second uninstall: removed %t %v", removed, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("uninstall removed another hook file")
	}
}

func TestInstallRefusesForeignFile(t *testing.T) {
	home := t.TempDir()
	path := HookFilePath(home)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := `{"version":1,"hooks":{"sessionStart":[{"type":"command","bash":"./mine.sh"}]}}`
	if err := os.WriteFile(path, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := InstallOptions{CopilotHome: home, Binary: "/usr/local/bin/otelcol-copilot-hook"}
	if _, _, err := Install(opts); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err %v", err)
	}
	if _, _, err := Uninstall(home, false); err == nil || !strings.Contains(err.Error(), "not written by") {
		t.Fatalf("uninstall err %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != foreign {
		t.Fatal("the foreign file was changed")
	}
	opts.Force = true
	if _, changed, err := Install(opts); err != nil || !changed {
		t.Fatalf("forced: %t %v", changed, err)
	}
	if b, _ := os.ReadFile(path); !Ours(b) {
		t.Fatal("not replaced")
	}
	if _, _, err := Install(InstallOptions{CopilotHome: home, Binary: "relative/bin"}); err == nil {
		t.Error("a relative binary path was accepted")
	}
}

// TestInstalledCommandRuns runs the installed bash command with a stand-in
// binary at an awkward path and checks the arguments it receives.
func TestInstalledCommandRuns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("bash")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := filepath.Join(t.TempDir(), `a dir with 'quotes' and $dollars`)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "otelcol-copilot-hook")
	out := filepath.Join(t.TempDir(), "args")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + out + "'\ncat >> '" + out + "'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := HookConfig(bin, []string{"--endpoint", "http://h:1", "--spool-dir", "/s p/o'ol"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var f hookFile
	if err := json.Unmarshal(cfg, &f); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", f.Hooks["agentStop"][0].Bash)
	cmd.Stdin = strings.NewReader(`{"sessionId":"x"}`)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	got, _ := os.ReadFile(out)
	want := "forward\nagentStop\n--endpoint\nhttp://h:1\n--spool-dir\n/s p/o'ol\n" + `{"sessionId":"x"}`
	if string(got) != want {
		t.Errorf("the hook ran with\n%s\nwant\n%s", got, want)
	}
}

func TestUsageEnv(t *testing.T) {
	u := session.UsageSummary{
		TotalPremiumRequestCost: 0.33 + 0.33 + 0.33,
		TotalNanoAIU:            4635767500,
		TotalUserRequests:       2,
		TotalAPIDurationMs:      80,
		TokenDetails:            session.TokenDetails{Input: 44525, Output: 250, CacheRead: 100, CacheWrite: 7, Reasoning: 5},
		ModelMetrics: map[string]session.ModelSummary{
			"gpt-5":           {Requests: session.RequestSummary{Count: 1}},
			"claude-sonnet-4": {Requests: session.RequestSummary{Count: 3}},
			"a-model":         {Requests: session.RequestSummary{Count: 1}},
		},
		CodeChanges: session.CodeSummary{LinesAdded: 11, LinesRemoved: 2, FilesModified: 1},
	}
	got := map[string]string{}
	for _, v := range UsageEnv("sid", u) {
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"COPILOT_SESSION_ID": "sid", "COPILOT_SESSION_AI_CREDITS": "4.6357675", "COPILOT_SESSION_NANO_AIU": "4635767500",
		"COPILOT_SESSION_PREMIUM_REQUESTS": "0.99", "COPILOT_SESSION_USER_REQUESTS": "2", "COPILOT_SESSION_REQUESTS": "5",
		"COPILOT_SESSION_API_DURATION_MS": "80", "COPILOT_SESSION_INPUT_TOKENS": "44525", "COPILOT_SESSION_OUTPUT_TOKENS": "250",
		"COPILOT_SESSION_CACHE_READ_TOKENS": "100", "COPILOT_SESSION_CACHE_WRITE_TOKENS": "7", "COPILOT_SESSION_REASONING_TOKENS": "5",
		"COPILOT_SESSION_MODEL": "claude-sonnet-4", "COPILOT_SESSION_MODELS": "claude-sonnet-4,a-model,gpt-5",
		"COPILOT_SESSION_LINES_ADDED": "11", "COPILOT_SESSION_LINES_REMOVED": "2", "COPILOT_SESSION_FILES_MODIFIED": "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d variables, want %d", len(got), len(want))
	}
	if s := FormatEnv([]EnvVar{{"A", "it's"}, {"B", ""}}); s != "A='it'\\''s'\nB=''\n" {
		t.Errorf("%q", s)
	}
}

func TestCredits(t *testing.T) {
	for nano, want := range map[int64]string{
		0: "0", 1: "0.000000001", 1e9: "1", 4635767500: "4.6357675", 1234567890123: "1234.567890123",
		999999999: "0.999999999", -1500000000: "-1.5", 9223372036854775807: "9223372036.854775807",
		-9223372036854775808: "-9223372036.854775808",
	} {
		if got := Credits(nano); got != want {
			t.Errorf("Credits(%d) = %q, want %q", nano, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 1: "1", 0.33 * 3: "0.99", 10.5: "10.5", 1e-12: "0"} {
		if got := Decimal(v); got != want {
			t.Errorf("Decimal(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	for id, want := range map[string]string{
		"5fc41fe9-2cf0-4410-b210-6aeb460047e4": "5fc41fe9-2cf0-4410-b210-6aeb460047e4",
		"../../etc/passwd":                     "h-",
		".hidden":                              "h-",
		"a.b":                                  "h-",
		"a/b":                                  "h-",
		"":                                     "h-",
	} {
		if got := CacheKey(id); !strings.HasPrefix(got, want) || strings.ContainsAny(got, `/\`) {
			t.Errorf("CacheKey(%q) = %q", id, got)
		}
	}
}
