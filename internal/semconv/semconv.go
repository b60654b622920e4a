// Package semconv holds the names of the copilot receiver's telemetry:
// its metrics, attributes, resource attributes, events and instrumentation
// scope, for the receiver that makes the telemetry and the chargeback
// processor that reads it.
//
// The names are generated from the receiver's metadata.yaml (and
// histograms.yaml, for the histograms mdatagen cannot describe) by
// internal/semconv/gen, which the receiver's doc.go runs with mdatagen: a
// name is declared once, in metadata.yaml, and `go generate` makes the
// constants. Do not declare a telemetry name by hand.
package semconv // import "github.com/otelcol-copilot/otelcol-copilot/internal/semconv"

// ServiceName is the service.name of every resource of the copilot
// receiver, and of the CLI's own telemetry: `github-copilot`.
const ServiceName = "github-copilot"

// Histogram describes a histogram metric of histograms.yaml.
type Histogram struct {
	Name        string
	Description string
	Unit        string
	// Attributes are the attributes of its data points.
	Attributes []string
}
