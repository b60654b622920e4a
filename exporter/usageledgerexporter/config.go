package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// Config is the usage_ledger exporter's configuration.
type Config struct {
	// Directory is where the ledger's files are written; it is created at
	// start when missing.
	Directory string `mapstructure:"directory"`
	// Collector names this collector in the files' names and the
	// x_Collector column, so that several collectors can write to one
	// directory. Default: the host name.
	Collector string `mapstructure:"collector"`
	// Formats are the file formats written: csv (always: each export merges
	// into the day's CSV file, and the report reads it) and parquet (a
	// Parquet copy of each day file).
	Formats []string `mapstructure:"formats"`
	// BillingAccount fills FOCUS's BillingAccountId and BillingAccountName:
	// the GitHub organisation or enterprise that pays.
	BillingAccount BillingAccount `mapstructure:"billing_account"`
	// Currency is the ledger's BillingCurrency: the chargeback processor's
	// pricing.currency. copilot.cost points in another unit are not added
	// to rows (counted and logged).
	Currency string `mapstructure:"currency"`
	// Attributes are the names of the attribution attributes on the
	// points, as the chargeback processor's `attributes` sets them.
	Attributes Attributes `mapstructure:"attributes"`

	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
}

// BillingAccount is who pays.
type BillingAccount struct {
	ID   string `mapstructure:"id"`
	Name string `mapstructure:"name"`
}

// Attributes are the data point attributes the attribution is read from.
type Attributes struct {
	Team       string `mapstructure:"team"`
	Project    string `mapstructure:"project"`
	CostCenter string `mapstructure:"cost_center"`
	Ticket     string `mapstructure:"ticket"`
}

const (
	formatCSV     = "csv"
	formatParquet = "parquet"
)

var (
	collectorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Validate checks the configuration, naming each bad key and value.
func (c *Config) Validate() error {
	var errs []error
	if c.Directory == "" {
		errs = append(errs, errors.New("directory: must be set"))
	}
	if !collectorName.MatchString(c.Collector) {
		errs = append(errs, fmt.Errorf("collector: %q must be letters, digits, '.', '_' or '-' (it is part of file names)", c.Collector))
	}
	if !slices.Contains(c.Formats, formatCSV) {
		errs = append(errs, fmt.Errorf("formats: %q must include csv (each export merges into the day's CSV file; parquet is a copy of it)", c.Formats))
	}
	for i, f := range c.Formats {
		if f != formatCSV && f != formatParquet {
			errs = append(errs, fmt.Errorf("formats::%d: %q is not a format (csv, parquet)", i, f))
		}
	}
	if c.BillingAccount.ID == "" {
		errs = append(errs, errors.New("billing_account::id: must be set (FOCUS BillingAccountId is never null)"))
	}
	if !money.IsCurrencyCode(c.Currency) {
		errs = append(errs, fmt.Errorf("currency: %q is not an ISO 4217 code", c.Currency))
	}
	if q := c.QueueConfig.Get(); q != nil {
		if b := q.Batch.Get(); b != nil && b.MaxSize != 0 {
			// exporterhelper splits a request where the batch it is merged
			// into fills up, and a persistent queue replays a request whole
			// until all its parts are written: after a restart its parts
			// written before are split elsewhere, and make other rows.
			errs = append(errs, fmt.Errorf("sending_queue::batch::max_size: %d: must not be set (a request split by size is split elsewhere when it is replayed after a restart, and the usage of its parts already written would be counted twice)", b.MaxSize))
		}
	}
	for key, v := range map[string]string{"team": c.Attributes.Team, "project": c.Attributes.Project, "cost_center": c.Attributes.CostCenter, "ticket": c.Attributes.Ticket} {
		if v == "" {
			errs = append(errs, fmt.Errorf("attributes::%s: must be set", key))
		}
	}
	return errors.Join(errs...)
}
