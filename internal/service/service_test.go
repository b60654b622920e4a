package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeRunner records the commands and answers them from a table: the
// first answer whose key prefixes the command line wins.
type fakeRunner struct {
	cmds    []string
	answers map[string]fakeAnswer
}

type fakeAnswer struct {
	out string
	err error
}

func (f *fakeRunner) Run(_ context.Context, c Command) (string, error) {
	line := c.String()
	f.cmds = append(f.cmds, line)
	for k, a := range f.answers {
		if strings.HasPrefix(line, k) {
			return a.out, a.err
		}
	}
	return "", nil
}

func (f *fakeRunner) take() []string {
	c := f.cmds
	f.cmds = nil
	return c
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// fakeCollector is an executable file standing in for otelcol-copilot.
func fakeCollector(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "otel col%$copilot")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions(t *testing.T, goos string) Options {
	home := t.TempDir()
	return Options{
		OS: goos, Home: home, UID: 501,
		Collector:        fakeCollector(t, t.TempDir()),
		Gateway:          "https://gateway.example:4318",
		GatewayTokenFile: filepath.Join(home, ".config", "otelcol-copilot", "gateway \"token\""),
		StateDir:         filepath.Join(home, "state & more"),
		Env:              []EnvVar{{"COPILOT_HOME", filepath.Join(home, ".copilot")}},
	}
}

func TestSystemdInstallUninstall(t *testing.T) {
	o := testOptions(t, "linux")
	r := &fakeRunner{}
	ctx := context.Background()

	res, err := Install(ctx, o, r, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(o.Home, ".config", "systemd", "user", "otelcol-copilot.service")
	if res.Path != unit || !res.Changed || !res.Started || res.Manager != "systemd user unit" {
		t.Fatalf("result %+v", res)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"[Service]\n",
		`ExecStart="` + strings.ReplaceAll(o.Collector, "%", "%%") + `"` + "\n",
		`Environment="OTELCOL_COPILOT_GATEWAY=https://gateway.example:4318"` + "\n",
		`Environment="OTELCOL_COPILOT_GATEWAY_TOKEN_FILE=` + strings.ReplaceAll(o.GatewayTokenFile, `"`, `\"`) + `"` + "\n",
		`Environment="COPILOT_HOME=` + o.Home + `/.copilot"` + "\n",
		"Restart=on-failure\n",
		"[Install]\nWantedBy=default.target\n",
		marker,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit lacks %q:\n%s", want, text)
		}
	}
	equal(t, "first install", r.take(), []string{
		"systemctl --user daemon-reload",
		"systemctl --user enable otelcol-copilot.service",
		"systemctl --user restart otelcol-copilot.service",
	})
	inst, ok, err := ReadInstalled(o)
	if err != nil || !ok || !inst.Ours {
		t.Fatalf("ReadInstalled: %+v %v %v", inst, ok, err)
	}
	if inst.Collector != o.Collector || inst.Gateway != o.Gateway || inst.GatewayTokenFile != o.GatewayTokenFile {
		t.Errorf("ReadInstalled reads %+v, want the options' collector, gateway and token file", inst)
	}

	// Again: nothing changes, the service is only made sure to run.
	res, err = Install(ctx, o, r, true, io.Discard)
	if err != nil || res.Changed {
		t.Fatalf("second install: %+v %v", res, err)
	}
	equal(t, "second install", r.take(), []string{
		"systemctl --user daemon-reload",
		"systemctl --user enable otelcol-copilot.service",
		"systemctl --user start otelcol-copilot.service",
	})

	// Local only: the gateway goes, the running collector restarts.
	o2 := o
	o2.Gateway, o2.GatewayTokenFile = "", ""
	if res, err = Install(ctx, o2, r, true, io.Discard); err != nil || !res.Changed {
		t.Fatalf("install without gateway: %+v %v", res, err)
	}
	b, _ = os.ReadFile(unit)
	if strings.Contains(string(b), "GATEWAY") {
		t.Errorf("the unit still names a gateway:\n%s", b)
	}
	if c := r.take(); c[len(c)-1] != "systemctl --user restart otelcol-copilot.service" {
		t.Errorf("a changed unit must restart the service: %q", c)
	}

	// --no-start: the file only, and what to run.
	o3 := o
	o3.NoStart = true
	if res, err = Install(ctx, o3, r, true, io.Discard); err != nil || res.Started || len(res.Hint) != 2 {
		t.Fatalf("--no-start: %+v %v", res, err)
	}
	equal(t, "--no-start", r.take(), nil)

	res, err = Uninstall(ctx, o, r, true, io.Discard)
	if err != nil || !res.Changed || len(res.Warnings) > 0 {
		t.Fatalf("uninstall: %+v %v", res, err)
	}
	if _, err := os.Stat(unit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unit is still there: %v", err)
	}
	equal(t, "uninstall", r.take(), []string{
		"systemctl --user disable --now otelcol-copilot.service",
		"systemctl --user daemon-reload",
		"systemctl --user reset-failed otelcol-copilot.service",
	})
	res, err = Uninstall(ctx, o, r, true, io.Discard)
	if err != nil || res.Changed {
		t.Fatalf("second uninstall: %+v %v", res, err)
	}
	equal(t, "second uninstall", r.take(), nil)
}

func TestSystemdStartFailureNamesWhatToDo(t *testing.T) {
	o := testOptions(t, "linux")
	r := &fakeRunner{answers: map[string]fakeAnswer{
		"systemctl --user daemon-reload": {err: errors.New("Failed to connect to bus: No medium found")},
	}}
	_, err := Install(context.Background(), o, r, true, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loginctl enable-linger") || !strings.Contains(err.Error(), "No medium found") {
		t.Fatalf("want an error with the cause and what to do, got %v", err)
	}
}

func TestLaunchdInstallUninstall(t *testing.T) {
	o := testOptions(t, "darwin")
	notLoaded := map[string]fakeAnswer{"launchctl print": {err: errors.New("Could not find service")}}
	r := &fakeRunner{answers: notLoaded}
	ctx := context.Background()
	res, err := Install(ctx, o, r, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	plist := filepath.Join(o.Home, "Library", "LaunchAgents", Label+".plist")
	if res.Path != plist || !res.Started {
		t.Fatalf("result %+v", res)
	}
	svc := "gui/501/" + Label
	equal(t, "first install", r.take(), []string{
		"launchctl print " + svc,
		"launchctl enable " + svc,
		"launchctl bootstrap gui/501 " + shellQuote(plist),
	})
	if st, err := os.Stat(o.StateDir); err != nil || !st.IsDir() {
		t.Errorf("the log's directory was not created: %v", err)
	}

	// Loaded and unchanged: kickstart; loaded and changed: bootout first.
	r.answers = map[string]fakeAnswer{"launchctl print": {out: "state = running\n"}}
	if _, err := Install(ctx, o, r, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	equal(t, "unchanged", r.take(), []string{"launchctl print " + svc, "launchctl enable " + svc, "launchctl kickstart " + svc})
	o2 := o
	o2.Gateway = "http://127.0.0.1:4318"
	if _, err := Install(ctx, o2, r, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	equal(t, "changed", r.take(), []string{
		"launchctl print " + svc, "launchctl bootout " + svc, "launchctl enable " + svc, "launchctl bootstrap gui/501 " + shellQuote(plist),
	})

	if _, err := Uninstall(ctx, o, r, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	equal(t, "uninstall", r.take(), []string{"launchctl print " + svc, "launchctl bootout " + svc})
	if _, err := os.Stat(plist); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plist is still there: %v", err)
	}
}

// TestLaunchdPlistSchema checks the plist as launchd reads it: a plist
// XML document whose keys have the types launchd.plist(5) requires.
func TestLaunchdPlistSchema(t *testing.T) {
	o := testOptions(t, "darwin")
	o.Collector = "/Applications/Copilot & <Co>/otelcol-copilot"
	path, b, err := o.Render()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != Label+".plist" {
		t.Errorf("the plist is named %s; launchd wants <Label>.plist", path)
	}
	v, err := ParsePlist(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("the plist's root is %T, want a dict", v)
	}
	str := func(k string) string {
		s, ok := d[k].(string)
		if !ok || s == "" {
			t.Errorf("%s is %T %v, want a non-empty string", k, d[k], d[k])
		}
		return s
	}
	if str("Label") != Label {
		t.Errorf("Label %q", d["Label"])
	}
	args, ok := d["ProgramArguments"].([]any)
	if !ok || len(args) == 0 {
		t.Fatalf("ProgramArguments is %T %v, want a non-empty array", d["ProgramArguments"], d["ProgramArguments"])
	}
	if args[0] != o.Collector {
		t.Errorf("ProgramArguments[0] = %q, want %q", args[0], o.Collector)
	}
	env, ok := d["EnvironmentVariables"].(map[string]any)
	if !ok {
		t.Fatalf("EnvironmentVariables is %T, want a dict", d["EnvironmentVariables"])
	}
	for k, v := range env {
		if _, ok := v.(string); !ok {
			t.Errorf("EnvironmentVariables.%s is %T, want a string", k, v)
		}
	}
	if env[EnvGateway] != o.Gateway || env[EnvGatewayTokenFile] != o.GatewayTokenFile || env["COPILOT_HOME"] != o.Env[0].Value {
		t.Errorf("EnvironmentVariables %v", env)
	}
	if d["RunAtLoad"] != true {
		t.Errorf("RunAtLoad is %v, want true", d["RunAtLoad"])
	}
	switch ka := d["KeepAlive"].(type) {
	case bool:
	case map[string]any:
		if ka["SuccessfulExit"] != false {
			t.Errorf("KeepAlive.SuccessfulExit is %v, want false (restart on failure)", ka["SuccessfulExit"])
		}
	default:
		t.Errorf("KeepAlive is %T, want a bool or a dict", ka)
	}
	if _, ok := d["ThrottleInterval"].(int64); !ok {
		t.Errorf("ThrottleInterval is %T, want an integer", d["ThrottleInterval"])
	}
	log := filepath.Join(o.StateDir, LogName)
	if str("StandardOutPath") != log || str("StandardErrorPath") != log {
		t.Errorf("logs go to %v and %v, want %s", d["StandardOutPath"], d["StandardErrorPath"], log)
	}
	known := map[string]bool{"Label": true, "ProgramArguments": true, "EnvironmentVariables": true, "RunAtLoad": true, "KeepAlive": true,
		"ThrottleInterval": true, "ProcessType": true, "StandardOutPath": true, "StandardErrorPath": true}
	for k := range d {
		if !known[k] {
			t.Errorf("unexpected key %s", k)
		}
	}
}

func TestParsePlistRefuses(t *testing.T) {
	head := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">`
	for name, doc := range map[string]string{
		"not a plist":     `<?xml version="1.0"?><dict></dict>`,
		"duplicate key":   head + `<dict><key>A</key><string>x</string><key>A</key><string>y</string></dict></plist>`,
		"key without":     head + `<dict><key>A</key></dict></plist>`,
		"value, no key":   head + `<dict><string>x</string></dict></plist>`,
		"bad integer":     head + `<dict><key>A</key><integer>ten</integer></dict></plist>`,
		"unknown element": head + `<dict><key>A</key><bool/></dict></plist>`,
		"unescaped &":     head + `<dict><key>A</key><string>a & b</string></dict></plist>`,
		"two roots":       head + `<dict></dict><dict></dict></plist>`,
		"wrong version":   `<plist version="2.0"><dict></dict></plist>`,
	} {
		if _, err := ParsePlist(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: no error for %s", name, doc)
		}
	}
}

func TestInstallLeavesForeignFiles(t *testing.T) {
	o := testOptions(t, "linux")
	path, _ := o.Path()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := []byte("[Service]\nExecStart=/usr/bin/something-else\n")
	if err := os.WriteFile(path, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{}
	if _, err := Install(context.Background(), o, r, true, io.Discard); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("install over a foreign unit: %v", err)
	}
	if _, err := Uninstall(context.Background(), o, r, true, io.Discard); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("uninstall of a foreign unit: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, mine) {
		t.Fatalf("the foreign unit was changed")
	}
	equal(t, "no command for a foreign unit", r.take(), nil)
	o.Force = true
	if _, err := Install(context.Background(), o, r, true, io.Discard); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		o := testOptions(t, goos)
		var out bytes.Buffer
		r := DryRun{Out: &out}
		if _, err := Install(context.Background(), o, r, false, &out); err != nil {
			t.Fatal(err)
		}
		path, want, _ := o.Render()
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: --dry-run wrote %s", goos, path)
		}
		if !strings.Contains(out.String(), "would write "+path+":\n"+string(want)) || !strings.Contains(out.String(), "would run: ") {
			t.Errorf("%s: --dry-run printed\n%s", goos, out.String())
		}
	}
}

func TestWindowsIsRefused(t *testing.T) {
	o := testOptions(t, "windows")
	_, err := Install(context.Background(), o, &fakeRunner{}, true, io.Discard)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "schtasks") {
		t.Fatalf("got %v", err)
	}
}

func TestRenderRefusesNewlines(t *testing.T) {
	o := testOptions(t, "linux")
	o.Gateway = "https://a.example\nExecStartPre=/bin/evil"
	if _, _, err := o.Render(); err == nil || !strings.Contains(err.Error(), "--gateway") {
		t.Fatalf("got %v", err)
	}
}

func TestSystemdQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{`/a b/c`, `100%`, `$HOME/x`, `a"b\c`, `plain`} {
		if got := systemdUnquote(systemdQuote(s)); got != s {
			t.Errorf("%q: %q → %q", s, systemdQuote(s), got)
		}
	}
	if q := systemdQuote(`a%b$c"d`); q != `"a%%b$c\"d"` {
		t.Errorf("quoting %s", q)
	}
}

func TestCheckGateway(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://gateway.example:4318":       true,
		"https://gateway.example:4318/otlp":  true,
		"http://127.0.0.1:4318":              true,
		"http://localhost:4318":              true,
		"http://[::1]:4318":                  true,
		"http://gateway.example:4318":        false,
		"http://10.0.0.1:4318":               false,
		"gateway.example:4318":               false,
		"https://":                           false,
		"https://user:pw@gateway.example":    false,
		"https://gateway.example/?token=abc": false,
		"ftp://gateway.example":              false,
	} {
		err := CheckGateway(raw)
		if (err == nil) != ok {
			t.Errorf("%s: got %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestCheckTokenFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are Unix ones")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if _, err := CheckTokenFile(p); err == nil {
		t.Error("no error for a missing file")
	}
	if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w, err := CheckTokenFile(p); err != nil || len(w) != 0 {
		t.Errorf("0600: %v %v", w, err)
	}
	os.Chmod(p, 0o640)
	if w, err := CheckTokenFile(p); err != nil || len(w) != 1 || !strings.Contains(w[0], "group") {
		t.Errorf("0640: %v %v", w, err)
	}
	os.Chmod(p, 0o644)
	if _, err := CheckTokenFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644: %v", err)
	}
	if _, err := CheckTokenFile(dir); err == nil {
		t.Error("no error for a directory")
	}
}

func TestPathLines(t *testing.T) {
	if !OnPath("/home/u/.local/bin/", "/usr/bin:/home/u/.local/bin", "linux") {
		t.Error("OnPath misses a directory with a trailing slash")
	}
	if OnPath("/home/u/.local/bin", "/usr/bin::/bin", "linux") {
		t.Error("OnPath finds what is not there")
	}
	if !OnPath(`C:\Users\U\bin`, `C:\Windows;c:\users\u\bin`, "windows") {
		t.Error("OnPath is case-sensitive on Windows")
	}
	got := PathLines("/home/u/.local/bin", "/home/u", "linux")
	if len(got) != 2 || got[0][1] != `export PATH="$HOME/.local/bin:$PATH"` || got[1][1] != `fish_add_path "$HOME/.local/bin"` {
		t.Errorf("under home: %q", got)
	}
	got = PathLines("/opt/my $dir/bin", "/home/u", "linux")
	if got[0][1] != `export PATH="/opt/my \$dir/bin:$PATH"` || got[1][1] != `fish_add_path "/opt/my \$dir/bin"` {
		t.Errorf("outside home: %q", got)
	}
	got = PathLines(`C:\Tools\bin`, "", "windows")
	if len(got) != 1 || got[0][1] != `$env:Path = "C:\Tools\bin;$env:Path"` {
		t.Errorf("windows: %q", got)
	}
}
