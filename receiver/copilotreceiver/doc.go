// Package copilotreceiver implements the copilot receiver: it tails GitHub
// Copilot CLI session transcripts and exports the usage the CLI accounted as
// metrics, one trace per session, and session summary logs.
package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

//go:generate go tool mdatagen metadata.yaml
//go:generate go run ../../internal/semconv/gen
