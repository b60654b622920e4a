// Package credentialholdextension implements the credential_hold extension:
// an HTTP and gRPC client middleware that turns a backend's refusal of the
// collector's credentials (401, 403) into a retryable answer, so that an
// exporter with retries and a sending queue keeps what was refused until
// the token is fixed instead of dropping it.
package credentialholdextension // import "github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension"

//go:generate go tool mdatagen metadata.yaml
