package credentialholdextension // import "github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension"

import (
	"errors"
	"fmt"
	"net/http"
)

// Config is the credential_hold extension's configuration.
type Config struct {
	// Statuses are the answers that mean the backend refuses the
	// collector's credentials: each is answered to the exporter as 503.
	Statuses []int `mapstructure:"statuses"`
}

func createDefaultConfig() *Config {
	return &Config{Statuses: []int{http.StatusUnauthorized, http.StatusForbidden}}
}

// Validate checks that the statuses are client errors the OTLP exporters
// would otherwise give up on.
func (c *Config) Validate() error {
	if len(c.Statuses) == 0 {
		return errors.New("statuses: empty; list the answers that mean the credentials are refused, such as [401, 403], or remove the extension")
	}
	for _, s := range c.Statuses {
		if s < 400 || s > 499 || s == http.StatusTooManyRequests {
			return fmt.Errorf("statuses: %d is not a 4xx answer the exporters give up on (400-499 but 429, which they retry already)", s)
		}
	}
	return nil
}
