package consoleexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Values of output.
const (
	OutputStdout = "stdout"
	OutputStderr = "stderr"
)

// Config is the console exporter's configuration.
type Config struct {
	// Output is where lines are written: stdout or stderr.
	Output string `mapstructure:"output"`
	// TimeZone is the zone the times of lines are shown in: Local (the
	// machine's), UTC, or an IANA name (Europe/Paris).
	TimeZone string `mapstructure:"time_zone"`
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration, naming the key and the bad value.
func (c *Config) Validate() error {
	if c.Output != OutputStdout && c.Output != OutputStderr {
		return fmt.Errorf("output: %q is not %q or %q", c.Output, OutputStdout, OutputStderr)
	}
	if _, err := c.location(); err != nil {
		return err
	}
	return nil
}

func (c *Config) location() (*time.Location, error) {
	if c.TimeZone == "" || c.TimeZone == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time_zone: %q is not a time zone; write Local, UTC or an IANA name such as Europe/Paris: %w", c.TimeZone, err)
	}
	return loc, nil
}
