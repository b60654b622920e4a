package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelcol-copilot/otelcol-copilot/confmap/provider/defaultconfigprovider"
	"github.com/otelcol-copilot/otelcol-copilot/internal/service"
)

func TestHelpRequested(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"otelcol-copilot", "--help"}, true},
		{[]string{"otelcol-copilot", "-h"}, true},
		{[]string{"otelcol-copilot", "help"}, true},
		{[]string{"otelcol-copilot", "--config", "my.yaml", "--help"}, true},
		{[]string{"otelcol-copilot", "--feature-gates", "x", "-h"}, true},
		{[]string{"otelcol-copilot"}, false},
		{[]string{"otelcol-copilot", "--config=my.yaml"}, false},
		{[]string{"otelcol-copilot", "validate", "--help"}, false},
		{[]string{"otelcol-copilot", "help", "validate"}, false},
		{[]string{"otelcol-copilot", "print-config", "-h"}, false},
		{[]string{"otelcol-copilot", "--", "--help"}, false},
	} {
		assert.Equal(t, tt.want, helpRequested(tt.args), "%q", tt.args)
	}
}

// TestHelp checks the distribution's help: the default configuration's
// ports as the embedded default has them, the environment, the companion
// binary; and that the stock help the command prints follows it.
func TestHelp(t *testing.T) {
	// The configuration is rendered with the process's environment; the
	// help shows the environment it is given.
	t.Setenv(defaultconfigprovider.StateDirEnv, t.TempDir())
	var out bytes.Buffer
	writeHelp(&out, func(k string) string {
		return map[string]string{
			"COPILOT_HOME":                       "/home/dev/.copilot",
			"OTELCOL_COPILOT_STATE_DIR":          "/home/dev/.local/state/otelcol-copilot",
			"OTELCOL_COPILOT_GATEWAY_TOKEN_FILE": "/run/secrets/gateway-token",
		}[k]
	})
	help := out.String()
	for _, want := range []string{
		"embedded default configuration",
		"  otelcol-copilot print-config\n",
		"confmap/provider/defaultconfigprovider/default.yaml",
		"  127.0.0.1:4320  hook payloads from otelcol-copilot-hook",
		"  127.0.0.1:4323  health check",
		"  127.0.0.1:4322  the collector's own metrics",
		"COPILOT_HOME                        where the Copilot CLI keeps its sessions and hooks (default ~/.copilot); here: /home/dev/.copilot\n",
		"OTELCOL_COPILOT_STATE_DIR           the collector's state directory",
		"; here: /home/dev/.local/state/otelcol-copilot\n",
		"OTELCOL_COPILOT_GATEWAY             an OTLP/HTTP gateway",
		"also sends the usage to, when set\n", // not set: no "here"
		"OTELCOL_COPILOT_GATEWAY_TOKEN_FILE  a file holding the bearer token for that gateway; here: /run/secrets/gateway-token\n",
		"Companion binary: otelcol-copilot-hook",
		"otelcol-copilot-hook install",
	} {
		assert.Contains(t, help, want)
	}
	assert.True(t, strings.HasSuffix(help, "The collector's own commands and flags:\n\n"), "the stock help follows")

	// The stock help, as main's command prints it after ours.
	cmd := otelcol.NewCommand(otelcol.CollectorSettings{BuildInfo: component.BuildInfo{Command: "otelcol-copilot"}, Factories: components})
	var stock bytes.Buffer
	cmd.SetOut(&stock)
	cmd.SetArgs([]string{"--help"})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, stock.String(), "print-config")
	assert.Contains(t, stock.String(), "--config")
}

// TestHelpPortsFollowTheDefault: every port the help names is in the
// embedded default, read from it.
func TestHelpPortsFollowTheDefault(t *testing.T) {
	t.Setenv(defaultconfigprovider.StateDirEnv, t.TempDir())
	conf, err := defaultConf()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:4320", conf.Get("receivers::copilot::hooks::endpoint"))
	assert.Equal(t, "127.0.0.1:4322", ownMetrics(conf))
	// otelcol-copilot-hook status reads them there by default.
	assert.Equal(t, "http://"+ownMetrics(conf)+"/metrics", service.DefaultMetricsURL)
}

// TestDefaultPortsBesideAStockCollector: the embedded default listens on
// none of the ports a stock collector listens on by default, nor on one
// port twice, with and without a gateway: a developer who also runs
// another collector (or Jupyter, on 8888) can start this one, which would
// otherwise fail at start on the port taken and follow no session.
func TestDefaultPortsBesideAStockCollector(t *testing.T) {
	// The stock collector's defaults: OTLP gRPC and HTTP, its own metrics,
	// and the health_check, zpages and pprof extensions.
	stock := map[string]string{"4317": "OTLP/gRPC", "4318": "OTLP/HTTP", "8888": "own metrics", "13133": "health_check", "55679": "zpages", "1777": "pprof"}
	for _, gateway := range []string{"", "https://gateway.example:4318"} {
		t.Setenv(defaultconfigprovider.StateDirEnv, t.TempDir())
		t.Setenv("OTELCOL_COPILOT_GATEWAY", gateway)
		conf, err := defaultConf()
		require.NoError(t, err)
		addrs := []string{ownMetrics(conf)}
		for _, k := range conf.AllKeys() {
			if (strings.HasPrefix(k, "receivers::") || strings.HasPrefix(k, "extensions::")) && strings.HasSuffix(k, "::endpoint") {
				addrs = append(addrs, conf.Get(k).(string))
			}
		}
		require.Len(t, addrs, 3, "gateway %q: the hook endpoint, the health check and the own metrics", gateway)
		seen := map[string]bool{}
		for _, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			require.NoError(t, err, a)
			assert.Equal(t, "127.0.0.1", host, "gateway %q: %s listens beyond loopback", gateway, a)
			if what, ok := stock[port]; ok {
				t.Errorf("gateway %q: %s is the stock collector's %s port", gateway, a, what)
			}
			assert.False(t, seen[port], "gateway %q: port %s twice", gateway, port)
			seen[port] = true
		}
	}
}

// TestHelpCommandLine runs the distribution's command line: its help comes
// first, the collector's own follows.
func TestHelpCommandLine(t *testing.T) {
	t.Setenv(defaultconfigprovider.StateDirEnv, t.TempDir())
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, ok := runCommand(t, t.TempDir(), args...)
		require.True(t, ok, out)
		ours := strings.Index(out, "otelcol-copilot: an OpenTelemetry Collector for GitHub Copilot CLI")
		stock := strings.Index(out, "Available Commands:")
		require.GreaterOrEqual(t, ours, 0, "%v: %s", args, out)
		assert.Greater(t, stock, ours, "%v: the stock help follows", args)
		assert.Contains(t, out, "127.0.0.1:4320")
	}
	// The command the help gives prints the default configuration (the
	// binary adds --config=otelcol-copilot:default; the test binary does
	// not, see defaultconfig.go).
	out, ok := runCommand(t, t.TempDir(), "print-config", "--config="+defaultconfigprovider.URI)
	require.True(t, ok, out)
	assert.Contains(t, out, "receivers:")
	assert.Contains(t, out, "127.0.0.1:4320")

	out, ok = runCommand(t, t.TempDir(), "validate", "--help")
	require.True(t, ok, out)
	assert.NotContains(t, out, "otelcol-copilot: an OpenTelemetry Collector", "a subcommand's help is the subcommand's")
}
