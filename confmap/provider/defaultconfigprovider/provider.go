// Package defaultconfigprovider serves the configuration otelcol-copilot
// runs when it is started without --config, under the URI
// "otelcol-copilot:default".
package defaultconfigprovider // import "github.com/otelcol-copilot/otelcol-copilot/confmap/provider/defaultconfigprovider"

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
)

const (
	schemeName = "otelcol-copilot"
	// URI is the default configuration's URI.
	URI = schemeName + ":default"
	// StateDirEnv overrides the directory checkpoints are kept in.
	StateDirEnv = statedir.Env
)

//go:embed default.yaml
var defaultYAML string

var tmpl = template.Must(template.New("default.yaml").Parse(defaultYAML))

// NewFactory returns the provider's factory.
func NewFactory() confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return provider{} })
}

type provider struct{}

func (provider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	if uri != URI {
		return nil, fmt.Errorf("%q is not a configuration this provider serves; the only one is %q", uri, URI)
	}
	b, err := Render()
	if err != nil {
		return nil, err
	}
	return confmap.NewRetrievedFromYAML(b)
}

func (provider) Scheme() string                 { return schemeName }
func (provider) Shutdown(context.Context) error { return nil }

// Render returns the default configuration, with the per-user state
// directory filled in.
func Render() ([]byte, error) {
	dir, err := StateDir()
	if err != nil {
		return nil, err
	}
	// A JSON string is a YAML scalar whatever the path holds.
	quoted, err := json.Marshal(filepath.Join(dir, "storage"))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]string{"StorageDir": string(quoted)}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StateDir is the per-user directory for the collector's state (see
// internal/statedir): $OTELCOL_COPILOT_STATE_DIR, else the platform's
// per-user state directory.
func StateDir() (string, error) { return statedir.Dir() }

// commandsWithConfig are the subcommands that read a configuration.
var commandsWithConfig = map[string]bool{"validate": true, "print-config": true}

// Args returns the command line with --config=otelcol-copilot:default added
// when it runs the collector (or validates or prints its configuration)
// without any --config.
func Args(args []string) []string {
	if len(args) == 0 {
		return args
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			return args
		case strings.HasPrefix(a, "-") && name == "config":
			return args
		case strings.HasPrefix(a, "-") && (name == "h" || name == "help" || name == "v" || name == "version"):
			return args
		case strings.HasPrefix(a, "-"):
			// --set and --feature-gates take a value, given either way.
			if !strings.Contains(a, "=") && (name == "set" || name == "feature-gates") {
				i++
			}
		case !commandsWithConfig[a]:
			return args // another subcommand, or an argument the collector will reject
		}
	}
	out := make([]string, 0, len(args)+1)
	out = append(out, args...)
	return append(out, "--config="+URI)
}
