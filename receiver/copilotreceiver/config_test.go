package copilotreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	t.Setenv("COPILOT_HOME", "/home/u/.copilot")
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	def := NewFactory().CreateDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewID(metadata.Type).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(def))
	require.NoError(t, confmap.Validate(def))
	assert.Equal(t, []string{filepath.Join("/home/u/.copilot", "session-state", "*", "events.jsonl")}, def.SessionState.Include)
	assert.Equal(t, StartAtBeginning, def.SessionState.StartAt)
	assert.Equal(t, TimestampsEvent, def.MetricTimestamps)
	assert.Equal(t, PointsCombined, def.MetricPoints)
	assert.False(t, def.ResourceAttributes.SessionID.Enabled, "session.id is off metrics by default")
	assert.False(t, def.CaptureContent)

	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "custom").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	ss := cfg.SessionState
	assert.Equal(t, []string{"/data/*/.copilot/session-state/*/events.jsonl"}, ss.Include)
	assert.Equal(t, []string{"/data/bot/**"}, ss.Exclude)
	assert.Equal(t, StartAtEnd, ss.StartAt)
	assert.Equal(t, 250*time.Millisecond, ss.PollInterval)
	assert.Equal(t, 30*time.Second, ss.RescanInterval)
	assert.Equal(t, component.MustNewID("file_storage"), *ss.Storage)
	assert.Equal(t, ByteSize(32<<20), ss.MaxLineSize)
	assert.Equal(t, 2*time.Hour, ss.IdleTimeout)
	assert.Equal(t, "alice", ss.User)
	assert.Equal(t, "/data/copilot/session-store.db", ss.Store)
	assert.Equal(t, RetryConfig{InitialInterval: time.Second, MaxInterval: time.Minute}, ss.RetryOnRefused)
	assert.True(t, cfg.CaptureContent)
	assert.Equal(t, TimestampsReceived, cfg.MetricTimestamps)
	assert.Equal(t, []float64{1, 10, 100}, cfg.Histograms.APIDuration.Buckets)
	assert.False(t, cfg.Metrics.CopilotToolCalls.Enabled)
	assert.True(t, cfg.ResourceAttributes.SessionID.Enabled)
	assert.False(t, cfg.Events.CopilotSessionError.Enabled)

	cfg = NewFactory().CreateDefaultConfig().(*Config)
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "per_event").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, PointsPerEvent, cfg.MetricPoints)
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no include", func(c *Config) { c.SessionState.Include = nil }, "session_state::include: no transcript globs"},
		{"bad include", func(c *Config) { c.SessionState.Include = []string{"/x/[a"} }, `session_state::include::0: "/x/[a"`},
		{"bad exclude", func(c *Config) { c.SessionState.Exclude = []string{"[z"} }, `session_state::exclude::0: "[z"`},
		{"relative include", func(c *Config) { c.SessionState.Include = []string{"/x/*/events.jsonl", "state/*/events.jsonl"} }, `session_state::include::1: "state/*/events.jsonl" is not an absolute path`},
		{"~ include", func(c *Config) { c.SessionState.Include = []string{"~/.copilot/session-state/*/events.jsonl"} }, `session_state::include::0: "~/.copilot/session-state/*/events.jsonl" is not an absolute path, and would be looked for under the collector's working directory; ~ is not expanded: write "${env:HOME}/.copilot/session-state/*/events.jsonl"`},
		{"relative exclude", func(c *Config) { c.SessionState.Exclude = []string{"bot/**"} }, `session_state::exclude::0: "bot/**" is not an absolute path, and would match no transcript`},
		{"start_at", func(c *Config) { c.SessionState.StartAt = "middle" }, `session_state::start_at: "middle"`},
		{"poll", func(c *Config) { c.SessionState.PollInterval = time.Millisecond }, "session_state::poll_interval: 1ms"},
		{"rescan", func(c *Config) { c.SessionState.RescanInterval = 10 * time.Millisecond }, "session_state::rescan_interval: 10ms is shorter than session_state::poll_interval"},
		{"line size", func(c *Config) { c.SessionState.MaxLineSize = 10 }, "session_state::max_line_size: 10 bytes"},
		{"idle", func(c *Config) { c.SessionState.IdleTimeout = 0 }, "session_state::idle_timeout: 0s"},
		{"retry", func(c *Config) { c.SessionState.RetryOnRefused.MaxInterval = time.Millisecond }, "session_state::retry_on_refused: initial_interval"},
		{"timestamps", func(c *Config) { c.MetricTimestamps = "wall" }, `metric_timestamps: "wall"`},
		{"points", func(c *Config) { c.MetricPoints = "per_call" }, `metric_points: "per_call" is not "combined" or "per_event"`},
		{"per event received", func(c *Config) { c.MetricPoints, c.MetricTimestamps = PointsPerEvent, TimestampsReceived }, `metric_points: "per_event" needs metric_timestamps: "event"`},
		{"buckets", func(c *Config) { c.Histograms.APIDuration.Buckets = []float64{1, 1} }, "histograms::copilot.api.duration::buckets"},
		{"strategy", func(c *Config) { c.Metrics.CopilotUsageTokens.AggregationStrategy = metadata.AggregationStrategyAvg }, `metrics::copilot.usage.tokens::aggregation_strategy: "avg"`},
		// The hooks' own Validate names keys below hooks; the collector's
		// validation puts the path to them first, without repeating it.
		{"hooks endpoint", func(c *Config) { c.Hooks = hooks(func(h *HooksConfig) { h.NetAddr.Endpoint = "" }) }, "hooks: endpoint: empty"},
		{"hooks allowed host", func(c *Config) {
			c.Hooks = hooks(func(h *HooksConfig) { h.AllowedHosts = []string{"ok.example", "*.example"} })
		}, `hooks: allowed_hosts::1: "*.example" is not a host name`},
		{"hooks auth", func(c *Config) { c.Hooks = hooks(func(h *HooksConfig) { h.NetAddr.Endpoint = "0.0.0.0:4320" }) }, `hooks: auth: required because endpoint "0.0.0.0:4320" accepts connections from other machines`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.SessionState.Include = []string{"/x/*/events.jsonl"}
			tc.mutate(cfg)
			assert.ErrorContains(t, confmap.Validate(cfg), tc.want)
		})
	}
}

// hooks is the default hooks configuration, edited.
func hooks(edit func(*HooksConfig)) configoptional.Optional[HooksConfig] {
	h := defaultHooksConfig()
	edit(&h)
	return configoptional.Some(h)
}

// TestValidateGlobsAbsolute: the default include is absolute wherever
// COPILOT_HOME is, a relative COPILOT_HOME is named as the cause, and an
// exclude starting with **/ (any depth) is accepted.
func TestValidateGlobsAbsolute(t *testing.T) {
	t.Setenv("COPILOT_HOME", t.TempDir())
	cfg := createDefaultConfig().(*Config)
	cfg.SessionState.Exclude = []string{"**/scratch-*/**"}
	require.NoError(t, confmap.Validate(cfg))

	t.Setenv("COPILOT_HOME", "relative-copilot")
	cfg = createDefaultConfig().(*Config)
	assert.ErrorContains(t, confmap.Validate(cfg), "it is the default, made from COPILOT_HOME: set COPILOT_HOME to an absolute path")
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "4MiB": 4 << 20, "1 GiB": 1 << 30, "2MB": 2e6, "7B": 7} {
		var b ByteSize
		require.NoError(t, b.UnmarshalText([]byte(in)), in)
		assert.Equal(t, want, b, in)
	}
	var b ByteSize
	assert.Error(t, b.UnmarshalText([]byte("lots")))
	assert.Error(t, b.UnmarshalText([]byte("-1")))
}
