package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otelcol-copilot/otelcol-copilot/internal/service"
)

// recorder stands in for systemctl and launchctl: it records the commands
// and answers every one with success (launchctl print: "state = running").
type recorder struct{ cmds []string }

func (r *recorder) Run(_ context.Context, c service.Command) (string, error) {
	r.cmds = append(r.cmds, c.String())
	if c.Name == "systemctl" && len(c.Args) > 1 && c.Args[1] == "show" {
		return "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=99\n", nil
	}
	return "state = running\npid = 99\n", nil
}

// serviceEnv gives the service commands a home, a state directory and a
// Copilot home of their own, and a recording service manager.
func serviceEnv(t *testing.T) (home string, rec *recorder) {
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	t.Setenv("OTELCOL_COPILOT_STATE_DIR", filepath.Join(home, "state"))
	t.Setenv("COPILOT_HOME", filepath.Join(home, ".copilot"))
	t.Setenv(service.EnvGateway, "")
	t.Setenv(service.EnvGatewayTokenFile, "")
	rec = &recorder{}
	old := serviceRunner
	serviceRunner = func() service.Runner { return rec }
	t.Cleanup(func() { serviceRunner = old })
	return home, rec
}

func fakeCollectorBinary(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "otelcol-copilot")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServiceCommands(t *testing.T) {
	home, rec := serviceEnv(t)
	collector := fakeCollectorBinary(t)
	token := filepath.Join(home, "gateway-token")
	if err := os.WriteFile(token, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"service", "install", "--collector", collector, "--gateway", "https://gateway.example:4318/", "--gateway-token-file", token}
	code := run(args, nil, &stdout, &stderr)
	if runtime.GOOS == "windows" {
		if code != 1 || !strings.Contains(stderr.String(), "not supported on Windows") {
			t.Fatalf("windows: exit %d, %q", code, stderr.String())
		}
		return
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	o := service.Options{Home: home}
	path, err := o.Path()
	if err != nil {
		t.Fatal(err)
	}
	inst, ok, err := service.ReadInstalled(o)
	if err != nil || !ok {
		t.Fatalf("nothing installed at %s: %v", path, err)
	}
	if inst.Collector != collector || inst.Gateway != "https://gateway.example:4318" || inst.GatewayTokenFile != token {
		t.Errorf("installed %+v", inst)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(filepath.Join(home, ".copilot"))) {
		t.Errorf("the service does not get COPILOT_HOME:\n%s", b)
	}
	if !strings.Contains(stdout.String(), "wrote "+path) || !strings.Contains(stdout.String(), "started") || len(rec.cmds) == 0 {
		t.Errorf("stdout %q, commands %q", stdout.String(), rec.cmds)
	}

	// status: the service, the gateway, the queue from a stand-in of the
	// collector's metrics endpoint, the hooks.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "otelcol_exporter_queue_size{data_type=\"logs\",exporter=\"otlphttp/gateway\"} 12\n"+
			"otelcol_exporter_queue_capacity{data_type=\"logs\",exporter=\"otlphttp/gateway\"} 1000\n")
	}))
	defer srv.Close()
	stdout.Reset()
	if code := run([]string{"status", "--metrics-url", srv.URL + "/metrics"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("status: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"pid 99", "sends to  https://gateway.example:4318 (token from " + token + ")",
		"otlphttp/gateway: 12 batches waiting", "hooks     not installed", "spool     0 hook payloads waiting"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, stdout.String())
		}
	}

	// Nothing answers: said plainly, exit 3.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/metrics"
	ln.Close()
	rec.cmds = nil
	serviceRunner = func() service.Runner { return service.DryRun{Out: io.Discard} } // not loaded
	stdout.Reset()
	if code := run([]string{"service", "status", "--metrics-url", dead}, nil, &stdout, &stderr); code != 3 {
		t.Errorf("status with nothing running: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "no collector answers at "+dead) {
		t.Errorf("status:\n%s", stdout.String())
	}
	serviceRunner = func() service.Runner { return rec }

	stdout.Reset()
	if code := run([]string{"service", "uninstall"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "removed "+path) {
		t.Fatalf("uninstall: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s is still there", path)
	}
	stdout.Reset()
	if code := run([]string{"service", "uninstall"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "nothing changed") {
		t.Fatalf("second uninstall: exit %d, %q", code, stdout.String())
	}
}

func TestServiceInstallRefuses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("refused as a whole on Windows: TestServiceCommands")
	}
	home, rec := serviceEnv(t)
	collector := fakeCollectorBinary(t)
	open := filepath.Join(home, "open-token")
	if err := os.WriteFile(open, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644) // whatever the umask
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--collector", collector, "--gateway", "http://gateway.example:4318"}, "--gateway \"http://gateway.example:4318\": sends usage and a bearer token in clear text"},
		{[]string{"--collector", collector, "--gateway", "https://gateway.example:4318", "--gateway-token-file", open}, "chmod 600"},
		{[]string{"--collector", collector, "--gateway", "https://gateway.example:4318", "--gateway-token-file", filepath.Join(home, "missing")}, "--gateway-token-file: stat "},
		{[]string{"--collector", collector, "--gateway-token-file", open}, "without --gateway"},
		{[]string{"--collector", filepath.Join(home, "nope")}, "--collector " + filepath.Join(home, "nope")},
		{[]string{"--collector", home}, "not an executable file"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"service", "install"}, c.args...), nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, stderr.String(), c.want)
		}
	}
	if len(rec.cmds) > 0 {
		t.Errorf("refused installs ran %q", rec.cmds)
	}
	path, _ := service.Options{Home: home}.Path()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused install wrote %s", path)
	}
}

func TestServiceInstallDryRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("refused as a whole on Windows: TestServiceCommands")
	}
	home, rec := serviceEnv(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"service", "install", "--collector", fakeCollectorBinary(t), "--dry-run"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	path, _ := service.Options{Home: home}.Path()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("--dry-run wrote %s", path)
	}
	if !strings.Contains(stdout.String(), "would write "+path) || !strings.Contains(stdout.String(), "would run: ") {
		t.Errorf("--dry-run printed %q", stdout.String())
	}
	for _, c := range rec.cmds {
		if !strings.Contains(c, " show ") && !strings.Contains(c, " print ") {
			t.Errorf("--dry-run ran %s", c)
		}
	}
}

// TestInstallPathHint: install says how to put the hook binary on PATH
// when it is not there, and says nothing when it is.
func TestInstallPathHint(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(exe)
	t.Setenv("COPILOT_HOME", t.TempDir())
	t.Setenv("HOME", filepath.Dir(dir))
	t.Setenv("USERPROFILE", filepath.Dir(dir))
	t.Setenv("PATH", filepath.Join(t.TempDir(), "bin"))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"install"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := `export PATH="$HOME/` + filepath.Base(dir) + `:$PATH"`
	if runtime.GOOS == "windows" {
		want = `$env:Path = "$env:USERPROFILE\` + filepath.Base(dir) + `;$env:Path"`
	}
	if !strings.Contains(stdout.String(), dir+" is not on your PATH") || !strings.Contains(stdout.String(), want) {
		t.Errorf("install printed %q, want %q", stdout.String(), want)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	stdout.Reset()
	if code := run([]string{"install"}, nil, &stdout, &stderr); code != 0 || strings.Contains(stdout.String(), "PATH") {
		t.Errorf("on PATH: exit %d, %q", code, stdout.String())
	}
}

// TestServiceInstallFindsCollector: without --collector, otelcol-copilot
// on PATH (when none is next to this binary); none at all is an error
// that says what to do.
func TestServiceInstallFindsCollector(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("refused as a whole on Windows: TestServiceCommands")
	}
	exe, _ := os.Executable()
	if _, err := os.Stat(filepath.Join(filepath.Dir(exe), "otelcol-copilot")); err == nil {
		t.Fatalf("an otelcol-copilot next to the test binary %s would be taken first", exe)
	}
	home, _ := serviceEnv(t)
	collector := fakeCollectorBinary(t)
	t.Setenv("PATH", filepath.Dir(collector))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"service", "install", "--no-start"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	inst, ok, err := service.ReadInstalled(service.Options{Home: home})
	if err != nil || !ok || inst.Collector != collector {
		t.Errorf("installed %+v (%v), want the collector on PATH %s", inst, err, collector)
	}
	if !strings.Contains(stdout.String(), "not started (--no-start)") || !strings.Contains(stdout.String(), "enable") {
		t.Errorf("--no-start printed %q", stdout.String())
	}

	// The gateway from the environment when no flag names it.
	t.Setenv(service.EnvGateway, "https://env-gateway.example:4318")
	if code := run([]string{"service", "install", "--no-start"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if inst, _, _ := service.ReadInstalled(service.Options{Home: home}); inst.Gateway != "https://env-gateway.example:4318" {
		t.Errorf("gateway %q, want $%s", inst.Gateway, service.EnvGateway)
	}

	t.Setenv("PATH", t.TempDir())
	stderr.Reset()
	if code := run([]string{"service", "install", "--no-start"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "nor on PATH") || !strings.Contains(stderr.String(), "--collector") {
		t.Errorf("no collector: exit %d, %q", code, stderr.String())
	}
}
