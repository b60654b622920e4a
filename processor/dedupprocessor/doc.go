// Package dedupprocessor implements the dedup processor: it drops data
// points, log records and spans identical to ones it passed within a
// window. In a fleet's owning replica it keeps a laptop's request, sent
// again whole because another replica was away, from counting twice.
package dedupprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor"

//go:generate go tool mdatagen metadata.yaml
