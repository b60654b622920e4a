package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// Values of session_state.start_at.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Values of metric_timestamps.
const (
	// TimestampsEvent stamps each data point with the time of the event it
	// counts, for backends that take delta temporality (Datadog, Honeycomb,
	// an OTLP gateway).
	TimestampsEvent = "event"
	// TimestampsReceived sums the points of each stream read together and
	// stamps them with strictly increasing receive times, for
	// deltatocumulative and Prometheus, which drop points older than the
	// last one of their stream (history read from transcripts arrives out of
	// order across sessions).
	TimestampsReceived = "received"
)

// Values of metric_points.
const (
	// PointsCombined combines the points of each series read in one round
	// (one batch the receiver delivers: a poll of live sessions, or up to
	// 2048 events of history) into one point, never across a quarter hour
	// of their start or end times. Totals are the same as per event.
	PointsCombined = "combined"
	// PointsPerEvent keeps one point per counted event: per model call,
	// tool call, session start, and so on.
	PointsPerEvent = "per_event"
)

// Config is the configuration of the copilot receiver.
type Config struct {
	// SessionState configures reading session transcripts.
	SessionState SessionStateConfig `mapstructure:"session_state"`

	// CaptureContent keeps prompts, responses, and tool arguments and
	// results on spans. Off, they never leave the receiver.
	CaptureContent bool `mapstructure:"capture_content"`

	// MetricTimestamps is "event" or "received".
	MetricTimestamps string `mapstructure:"metric_timestamps"`

	// MetricPoints is "combined" or "per_event": whether the points of a
	// series read together are combined into one. per_event needs
	// metric_timestamps: event.
	MetricPoints string `mapstructure:"metric_points"`

	// Histograms configures the histogram metrics, which the metadata
	// generator cannot describe.
	Histograms HistogramsConfig `mapstructure:"histograms"`

	// Metrics and resource attributes (metrics:, resource_attributes:).
	metadata.MetricsBuilderConfig `mapstructure:",squash"`

	// Events switches the log events on and off.
	Events metadata.EventsConfig `mapstructure:"events"`

	// Hooks is the hook endpoint, on when the key is present (`hooks:`
	// alone takes every default).
	Hooks configoptional.Optional[HooksConfig] `mapstructure:"hooks"`
}

// SessionStateConfig configures the transcript files read.
type SessionStateConfig struct {
	// Include lists the transcript files to read, as absolute globs (**
	// matches any number of directories; ~ is not expanded). Default:
	// $COPILOT_HOME/session-state/*/events.jsonl, COPILOT_HOME defaulting to
	// ~/.copilot.
	Include []string `mapstructure:"include"`
	// Exclude lists globs of files not to read: absolute, or starting with
	// **/ to match at any depth.
	Exclude []string `mapstructure:"exclude"`
	// StartAt says where to start in a transcript found without a
	// checkpoint when the receiver starts: "beginning" exports its history
	// with the original timestamps; "end" exports only what is written
	// after (the history is still read, to account the session correctly,
	// but not exported). Transcripts created while running are always read
	// from the beginning.
	StartAt string `mapstructure:"start_at"`
	// PollInterval is how often files that are being written are checked.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// RescanInterval is how often the include globs are matched again to
	// find new files and finished sessions that were resumed. New session
	// directories are noticed at once where the file system reports
	// changes, and live sessions are watched.
	RescanInterval time.Duration `mapstructure:"rescan_interval"`
	// Storage is the id of a storage extension (file_storage) that keeps
	// checkpoints, so that a restart neither counts nor loses anything.
	// Without one, every start reads the transcripts anew.
	Storage *component.ID `mapstructure:"storage"`
	// MaxLineSize is the longest line read; a longer line is skipped and
	// counted. Real transcripts have lines of a few MB.
	MaxLineSize ByteSize `mapstructure:"max_line_size"`
	// IdleTimeout is how long a session may go without new events before
	// its open spans are ended (a killed session has no shutdown) and its
	// state is released from memory (it stays in storage).
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// User is the user.name resource attribute. Default: the account the
	// collector runs as.
	User string `mapstructure:"user"`
	// RetryOnRefused configures how a batch the pipeline refuses (memory
	// limiter, a full queue) is offered again. It is retried until
	// accepted; the checkpoint does not move past it.
	RetryOnRefused RetryConfig `mapstructure:"retry_on_refused"`
	// DrainTimeout is how long a stop waits for a batch being delivered
	// to be accepted, so that it is committed and not sent again after
	// the restart. Past it, the batch is sent again, identically, after
	// the restart.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
	// ProgressInterval is how often, at most, the collector's log tells
	// how far the sessions already written at start have been read (a
	// backfill of months of history takes a while); 0 turns these lines
	// off. The start line and the caught-up line are always written.
	ProgressInterval time.Duration `mapstructure:"progress_interval"`
	// Store is the CLI's session store (session-store.db) the receiver
	// cross-checks the transcripts' usage with: "auto" (the default), the
	// store beside each include glob's session-state directory; an absolute
	// path; or "none" or "" for none. It is never counted (store.go).
	Store string `mapstructure:"store"`
}

// RetryConfig is an exponential backoff without an end.
type RetryConfig struct {
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
}

// HistogramsConfig configures the histogram metrics.
type HistogramsConfig struct {
	// APIDuration is copilot.api.duration.
	APIDuration HistogramConfig `mapstructure:"copilot.api.duration"`
	// TimeToFirstToken is copilot.api.time_to_first_token.
	TimeToFirstToken HistogramConfig `mapstructure:"copilot.api.time_to_first_token"`
	// ServerTimeToFirstToken is gen_ai.server.time_to_first_token, from
	// the session store (store_calls.go).
	ServerTimeToFirstToken HistogramConfig `mapstructure:"gen_ai.server.time_to_first_token"`
	// ServerTimePerOutputToken is gen_ai.server.time_per_output_token,
	// from the session store.
	ServerTimePerOutputToken HistogramConfig `mapstructure:"gen_ai.server.time_per_output_token"`
}

// byName returns the histograms' configurations by metric name, the key
// of each.
func (h *HistogramsConfig) byName() map[string]HistogramConfig {
	return map[string]HistogramConfig{
		semconv.MetricCopilotAPIDuration:            h.APIDuration,
		semconv.MetricCopilotAPITimeToFirstToken:    h.TimeToFirstToken,
		semconv.MetricGenAIServerTimeToFirstToken:   h.ServerTimeToFirstToken,
		semconv.MetricGenAIServerTimePerOutputToken: h.ServerTimePerOutputToken,
	}
}

// HistogramConfig configures one histogram.
type HistogramConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Buckets are the explicit bucket boundaries, in seconds.
	Buckets []float64 `mapstructure:"buckets"`
}

// ByteSize is a number of bytes, written as a number or with a unit (KiB,
// MiB, GiB, KB, MB, GB).
type ByteSize int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size: write a number of bytes, or one with KiB, MiB or GiB", text)
	}
	*b = ByteSize(n * mult)
	return nil
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; it names the key and the value at
// fault.
func (cfg *Config) Validate() error {
	var errs []error
	ss := &cfg.SessionState
	if len(ss.Include) == 0 {
		errs = append(errs, errors.New("session_state::include: no transcript globs; set them, or set COPILOT_HOME or HOME so the default can be found"))
	}
	for i, p := range ss.Include {
		switch {
		case !doublestar.ValidatePattern(filepath.ToSlash(p)):
			errs = append(errs, fmt.Errorf("session_state::include::%d: %q is not a valid glob", i, p))
		case !filepath.IsAbs(p):
			errs = append(errs, fmt.Errorf("session_state::include::%d: %q is not an absolute path, and would be looked for under the collector's working directory; %s", i, p, absoluteHint(p)))
		}
	}
	for i, p := range ss.Exclude {
		switch {
		case !doublestar.ValidatePattern(filepath.ToSlash(p)):
			errs = append(errs, fmt.Errorf("session_state::exclude::%d: %q is not a valid glob", i, p))
		case !filepath.IsAbs(p) && !strings.HasPrefix(filepath.ToSlash(p), "**/"):
			// Transcript paths are absolute: a relative glob matches none,
			// unless it starts with **/ (at any depth).
			errs = append(errs, fmt.Errorf("session_state::exclude::%d: %q is not an absolute path, and would match no transcript; %s, or start it with **/ to match at any depth", i, p, absoluteHint(p)))
		}
	}
	if ss.StartAt != StartAtBeginning && ss.StartAt != StartAtEnd {
		errs = append(errs, fmt.Errorf("session_state::start_at: %q is not %q or %q", ss.StartAt, StartAtBeginning, StartAtEnd))
	}
	if ss.PollInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("session_state::poll_interval: %v is below the minimum of 10ms", ss.PollInterval))
	}
	if ss.RescanInterval < ss.PollInterval {
		errs = append(errs, fmt.Errorf("session_state::rescan_interval: %v is shorter than session_state::poll_interval (%v)", ss.RescanInterval, ss.PollInterval))
	}
	if ss.MaxLineSize < 64<<10 || ss.MaxLineSize > 1<<30 {
		errs = append(errs, fmt.Errorf("session_state::max_line_size: %d bytes is outside 64KiB to 1GiB", ss.MaxLineSize))
	}
	if ss.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("session_state::drain_timeout: %v must not be negative", ss.DrainTimeout))
	}
	if ss.ProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("session_state::progress_interval: %v must not be negative (0 turns progress lines off)", ss.ProgressInterval))
	}
	if ss.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("session_state::idle_timeout: %v is below the minimum of 1s", ss.IdleTimeout))
	}
	if r := ss.RetryOnRefused; r.InitialInterval <= 0 || r.MaxInterval < r.InitialInterval {
		errs = append(errs, fmt.Errorf("session_state::retry_on_refused: initial_interval (%v) must be positive and max_interval (%v) at least as long", r.InitialInterval, r.MaxInterval))
	}
	if err := ss.validateStore(); err != nil {
		errs = append(errs, err)
	}
	if cfg.MetricTimestamps != TimestampsEvent && cfg.MetricTimestamps != TimestampsReceived {
		errs = append(errs, fmt.Errorf("metric_timestamps: %q is not %q or %q", cfg.MetricTimestamps, TimestampsEvent, TimestampsReceived))
	}
	switch cfg.MetricPoints {
	case PointsCombined:
	case PointsPerEvent:
		if cfg.MetricTimestamps == TimestampsReceived {
			errs = append(errs, fmt.Errorf("metric_points: %q needs metric_timestamps: %q; %q stamps every point read together with one time, and a series' points with one time would be dropped but the first", cfg.MetricPoints, TimestampsEvent, TimestampsReceived))
		}
	default:
		errs = append(errs, fmt.Errorf("metric_points: %q is not %q or %q", cfg.MetricPoints, PointsCombined, PointsPerEvent))
	}
	hists := cfg.Histograms.byName()
	for _, name := range slices.Sorted(maps.Keys(hists)) {
		h := hists[name]
		for i := 1; i < len(h.Buckets); i++ {
			if !(h.Buckets[i] > h.Buckets[i-1]) {
				errs = append(errs, fmt.Errorf("histograms::%s::buckets: boundaries must increase, but %v follows %v", name, h.Buckets[i], h.Buckets[i-1]))
				break
			}
		}
	}
	metrics := metricConfigs(&cfg.Metrics)
	for _, name := range slices.Sorted(maps.Keys(metrics)) {
		if s := metrics[name].AggregationStrategy; s != metadata.AggregationStrategySum {
			errs = append(errs, fmt.Errorf("metrics::%s::aggregation_strategy: %q would misstate usage; only %q is supported", name, s, metadata.AggregationStrategySum))
		}
	}
	return errors.Join(errs...)
}

// absoluteHint tells how to make a relative glob p absolute.
func absoluteHint(p string) string {
	if def := defaultInclude(); len(def) == 1 && def[0] == p {
		return "it is the default, made from COPILOT_HOME: set COPILOT_HOME to an absolute path, or set session_state::include"
	}
	if p == "~" || strings.HasPrefix(filepath.ToSlash(p), "~/") {
		return fmt.Sprintf("~ is not expanded: write %q", "${env:HOME}"+p[1:])
	}
	return "write an absolute glob (${env:HOME}/... for the home directory)"
}

// includeNote says, for the start line, where the include globs come
// from when they are the default.
func includeNote(include []string) string {
	def := defaultInclude()
	if len(def) != 1 || len(include) != 1 || include[0] != def[0] {
		return ""
	}
	if h := os.Getenv(statedir.EnvCopilotHome); h != "" {
		return "the default, under " + statedir.EnvCopilotHome + "=" + h
	}
	return "the default, under ~/.copilot; set " + statedir.EnvCopilotHome + " or session_state::include to read others"
}

// defaultInclude is the transcript glob under COPILOT_HOME, or ~/.copilot.
func defaultInclude() []string {
	home, err := statedir.CopilotHome(nil)
	if err != nil || home == "" {
		return nil
	}
	return []string{filepath.Join(home, "session-state", "*", "events.jsonl")}
}
