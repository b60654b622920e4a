// Package jiraexporter implements the jira exporter: it keeps each
// ticket's GitHub Copilot spend in Jira, setting fields of the issue the
// chargeback processor attributed a session to from the ticket's total,
// recomputed from per-session totals kept in a storage extension, and
// optionally posting one comment per session leg.
package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

//go:generate go tool mdatagen metadata.yaml
