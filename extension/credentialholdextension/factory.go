package credentialholdextension // import "github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension/internal/metadata"
)

// NewFactory returns the factory of the credential_hold extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		create,
		metadata.ExtensionStability,
	)
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return newHold(cfg.(*Config), set.Logger, tel), nil
}
