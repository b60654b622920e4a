package defaultconfigprovider

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestArgs(t *testing.T) {
	const def = "--config=" + URI
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"otelcol-copilot"}, []string{"otelcol-copilot", def}},
		{[]string{"otelcol-copilot", "--config", "c.yaml"}, []string{"otelcol-copilot", "--config", "c.yaml"}},
		{[]string{"otelcol-copilot", "--config=c.yaml"}, []string{"otelcol-copilot", "--config=c.yaml"}},
		{[]string{"otelcol-copilot", "-config", "c.yaml"}, []string{"otelcol-copilot", "-config", "c.yaml"}},
		{[]string{"otelcol-copilot", "--set", "x=1"}, []string{"otelcol-copilot", "--set", "x=1", def}},
		{[]string{"otelcol-copilot", "--feature-gates=a"}, []string{"otelcol-copilot", "--feature-gates=a", def}},
		{[]string{"otelcol-copilot", "validate"}, []string{"otelcol-copilot", "validate", def}},
		{[]string{"otelcol-copilot", "validate", "--config=x.yaml"}, []string{"otelcol-copilot", "validate", "--config=x.yaml"}},
		{[]string{"otelcol-copilot", "components"}, []string{"otelcol-copilot", "components"}},
		{[]string{"otelcol-copilot", "--version"}, []string{"otelcol-copilot", "--version"}},
		{[]string{"otelcol-copilot", "-h"}, []string{"otelcol-copilot", "-h"}},
	} {
		assert.Equal(t, tc.want, Args(tc.in), "%v", tc.in)
	}
}

func TestRetrieve(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(StateDirEnv, dir)
	t.Setenv(GatewayEnv, "")
	t.Setenv(GatewayTokenFileEnv, "")
	p := NewFactory().Create(confmap.ProviderSettings{})
	ret, err := p.Retrieve(context.Background(), URI, nil)
	require.NoError(t, err)
	conf, err := ret.AsConf()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "storage"), conf.Get("extensions::file_storage/copilot::directory"))
	assert.Equal(t, "127.0.0.1:4320", conf.Get("receivers::copilot::hooks::endpoint"))
	_, err = p.Retrieve(context.Background(), "otelcol-copilot:other", nil)
	assert.ErrorContains(t, err, URI)
	require.NoError(t, p.Shutdown(context.Background()))
}

// TestGateway: the gateway exporter, its queue, its token and its
// pipelines are in the rendered default exactly when OTELCOL_COPILOT_GATEWAY
// is set, and bad values are refused naming the variable.
func TestGateway(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("secret\n"), 0o600))
	for _, tc := range []struct {
		name             string
		gateway, tokenAt string
		wantErr          string
	}{
		{name: "laptop only"},
		{name: "gateway", gateway: "https://gateway.example:4318"},
		{name: "gateway with token", gateway: "http://10.0.0.7:4318", tokenAt: token},
		{name: "not a URL", gateway: "gateway.example:4318", wantErr: GatewayEnv + `="gateway.example:4318" is not an http or https URL`},
		{name: "token without gateway", tokenAt: token, wantErr: GatewayTokenFileEnv + " is set but " + GatewayEnv + " is not"},
		{name: "token file missing", gateway: "https://g.example", tokenAt: token + ".missing", wantErr: GatewayTokenFileEnv + ": stat "},
		{name: "token file relative", gateway: "https://g.example", tokenAt: "token", wantErr: GatewayTokenFileEnv + `="token" is not an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv(StateDirEnv, dir)
			t.Setenv(GatewayEnv, tc.gateway)
			t.Setenv(GatewayTokenFileEnv, tc.tokenAt)
			b, err := Render()
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			ret, err := confmap.NewRetrievedFromYAML(b)
			require.NoError(t, err)
			conf, err := ret.AsConf()
			require.NoError(t, err)
			pipelines := conf.Get("service::pipelines").(map[string]any)
			exts := conf.Get("service::extensions")
			if tc.gateway == "" {
				assert.Len(t, pipelines, 1, "%v", pipelines)
				assert.False(t, conf.IsSet("exporters::otlphttp/gateway"))
				assert.False(t, conf.IsSet("receivers::copilot::resource_attributes"))
				assert.Equal(t, []any{"file_storage/copilot", "health_check"}, exts)
				return
			}
			for _, p := range []string{"metrics/gateway", "traces/gateway", "logs/gateway"} {
				assert.Equal(t, []any{"otlphttp/gateway"}, conf.Get("service::pipelines::"+p+"::exporters"), p)
			}
			assert.Contains(t, pipelines, "logs")
			assert.Equal(t, tc.gateway, conf.Get("exporters::otlphttp/gateway::endpoint"))
			assert.Equal(t, "file_storage/copilot", conf.Get("exporters::otlphttp/gateway::sending_queue::storage"))
			assert.Equal(t, true, conf.Get("exporters::otlphttp/gateway::sending_queue::enabled"))
			assert.Equal(t, true, conf.Get("receivers::copilot::resource_attributes::session.id::enabled"))
			if tc.tokenAt == "" {
				assert.False(t, conf.IsSet("exporters::otlphttp/gateway::auth"))
				assert.False(t, conf.IsSet("extensions::bearertokenauth/gateway"))
				return
			}
			assert.Equal(t, "bearertokenauth/gateway", conf.Get("exporters::otlphttp/gateway::auth::authenticator"))
			assert.Equal(t, tc.tokenAt, conf.Get("extensions::bearertokenauth/gateway::filename"))
			assert.Contains(t, exts, "bearertokenauth/gateway")
		})
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", "/var/lib/x")
	t.Setenv("HOME", "/home/u")
	d, err := StateDir()
	require.NoError(t, err)
	assert.Contains(t, []string{"/var/lib/x/otelcol-copilot", filepath.Join("/home/u", "Library", "Application Support", "otelcol-copilot")}, d)
}
