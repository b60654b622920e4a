package dedupprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor"

import (
	"errors"
	"fmt"
	"time"
)

// Config is the dedup processor's configuration.
type Config struct {
	// Window is how long an item passed is remembered: at least as long as
	// a sender may keep sending a request again (a replica's outage).
	Window time.Duration `mapstructure:"window"`
	// MaxEntries bounds the items remembered (about 60 bytes each); beyond
	// it the oldest are forgotten first, counted.
	MaxEntries int `mapstructure:"max_entries"`
}

func createDefaultConfig() *Config {
	return &Config{Window: time.Hour, MaxEntries: 1_000_000}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("window: %s must be positive", c.Window))
	}
	if c.MaxEntries < 1 {
		errs = append(errs, errors.New("max_entries: must be at least 1"))
	}
	return errors.Join(errs...)
}
