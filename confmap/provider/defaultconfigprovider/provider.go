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
	"net/url"
	"os"
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
	// GatewayEnv is a gateway's OTLP/HTTP base URL
	// (https://gateway.example:4318). When set, the default configuration
	// also sends metrics, traces and logs there, through a persistent queue.
	GatewayEnv = "OTELCOL_COPILOT_GATEWAY"
	// GatewayTokenFileEnv names a file holding the bearer token the
	// gateway wants; read by the bearertokenauth extension.
	GatewayTokenFileEnv = "OTELCOL_COPILOT_GATEWAY_TOKEN_FILE"
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
// directory filled in, and the gateway pipelines when GatewayEnv is set.
func Render() ([]byte, error) {
	dir, err := StateDir()
	if err != nil {
		return nil, err
	}
	gateway, tokenFile, err := gatewayFromEnv()
	if err != nil {
		return nil, err
	}
	data := map[string]string{"StorageDir": yamlString(filepath.Join(dir, "storage"))}
	if gateway != "" {
		data["Gateway"] = yamlString(gateway)
	}
	if tokenFile != "" {
		data["TokenFile"] = yamlString(tokenFile)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// yamlString quotes s as a JSON string, which is a YAML scalar whatever s
// holds.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// gatewayFromEnv reads and checks GatewayEnv and GatewayTokenFileEnv; both
// empty when no gateway is configured.
func gatewayFromEnv() (gateway, tokenFile string, err error) {
	gateway = strings.TrimSpace(os.Getenv(GatewayEnv))
	tokenFile = strings.TrimSpace(os.Getenv(GatewayTokenFileEnv))
	if gateway == "" {
		if tokenFile != "" {
			return "", "", fmt.Errorf("%s is set but %s is not: set %s to the gateway's OTLP/HTTP URL (https://gateway.example:4318), or unset %s",
				GatewayTokenFileEnv, GatewayEnv, GatewayEnv, GatewayTokenFileEnv)
		}
		return "", "", nil
	}
	u, perr := url.Parse(gateway)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%s=%q is not an http or https URL with a host; set it to the gateway's OTLP/HTTP base URL, such as https://gateway.example:4318", GatewayEnv, gateway)
	}
	if tokenFile != "" {
		if !filepath.IsAbs(tokenFile) {
			return "", "", fmt.Errorf("%s=%q is not an absolute path; name the token file by its absolute path", GatewayTokenFileEnv, tokenFile)
		}
		fi, serr := os.Stat(tokenFile)
		if serr != nil {
			return "", "", fmt.Errorf("%s: %w; write the gateway's bearer token to that file, or unset %s", GatewayTokenFileEnv, serr, GatewayTokenFileEnv)
		}
		if fi.IsDir() {
			return "", "", fmt.Errorf("%s=%q is a directory; name the file that holds the gateway's bearer token", GatewayTokenFileEnv, tokenFile)
		}
	}
	return gateway, tokenFile, nil
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
