// Package notifyexporter implements the notify exporter: it sends one
// message per budget crossing (the chargeback processor's
// copilot.budget.crossing log records) to Slack incoming webhooks,
// Microsoft Teams workflow webhooks and signed generic JSON webhooks, and
// remembers per destination which crossing ids were accepted, in a storage
// extension, so that a restart never repeats a delivered message.
package notifyexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter"

//go:generate go tool mdatagen metadata.yaml
