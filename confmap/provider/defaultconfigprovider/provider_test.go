package defaultconfigprovider

import (
	"context"
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
	p := NewFactory().Create(confmap.ProviderSettings{})
	ret, err := p.Retrieve(context.Background(), URI, nil)
	require.NoError(t, err)
	conf, err := ret.AsConf()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "storage"), conf.Get("extensions::file_storage/copilot::directory"))
	assert.Equal(t, "127.0.0.1:9464", conf.Get("exporters::prometheus::endpoint"))
	_, err = p.Retrieve(context.Background(), "otelcol-copilot:other", nil)
	assert.ErrorContains(t, err, URI)
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestStateDir(t *testing.T) {
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", "/var/lib/x")
	t.Setenv("HOME", "/home/u")
	d, err := StateDir()
	require.NoError(t, err)
	assert.Contains(t, []string{"/var/lib/x/otelcol-copilot", filepath.Join("/home/u", "Library", "Application Support", "otelcol-copilot")}, d)
}
