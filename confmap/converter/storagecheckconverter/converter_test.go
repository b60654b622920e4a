package storagecheckconverter

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func convert(t *testing.T, yaml string) error {
	t.Helper()
	ret, err := confmap.NewRetrievedFromYAML([]byte(yaml))
	require.NoError(t, err)
	conf, err := ret.AsConf()
	require.NoError(t, err)
	before := conf.ToStringMap()
	c := NewFactory().Create(confmap.ConverterSettings{})
	err = c.Convert(context.Background(), conf)
	assert.Equal(t, before, conf.ToStringMap(), "the converter changes nothing")
	return err
}

// config is a configuration with one enabled file_storage in dir; extra is
// added at the top level.
func config(dir, extra string) string {
	return `
extensions:
  file_storage:
    directory: ` + dir + `
  file_storage/spare:
    directory: ` + dir + `
service:
  extensions: [file_storage]
` + extra
}

func TestStorageReferences(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, extra string
		want        []string // nil: accepted
	}{
		{
			name: "all enabled",
			extra: `
receivers:
  copilot:
    session_state: {storage: file_storage}
processors:
  chargeback: {storage: file_storage}
exporters:
  otlp_http:
    sending_queue: {storage: file_storage}
`,
		},
		{
			name: "receiver names no extension",
			extra: `
receivers:
  copilot/team:
    session_state: {storage: file_storage/x}
`,
			want: []string{`receivers::copilot/team::session_state::storage: "file_storage/x" names no extension in service::extensions; configure it under extensions and add it to service::extensions, or remove the key`},
		},
		{
			name: "configured, not enabled",
			extra: `
processors:
  chargeback: {storage: file_storage/spare}
`,
			want: []string{`processors::chargeback::storage: "file_storage/spare" is configured under extensions but not enabled; add it to service::extensions`},
		},
		{
			name: "exporter queue",
			extra: `
exporters:
  otlp_grpc:
    sending_queue: {storage: file_storage/x}
  otlp_http:
    sending_queue: {enabled: false, storage: file_storage/x}
`,
			want: []string{`exporters::otlp_grpc::sending_queue::storage: "file_storage/x" names no extension`},
		},
		{
			name: "every error at once, in order",
			extra: `
receivers:
  copilot:
    session_state: {storage: a}
processors:
  chargeback: {storage: b}
exporters:
  debug:
    sending_queue: {storage: c}
`,
			want: []string{
				`receivers::copilot::session_state::storage: "a" names`,
				`processors::chargeback::storage: "b" names`,
				`exporters::debug::sending_queue::storage: "c" names`,
			},
		},
		{
			name: "other components' storage keys are theirs",
			extra: `
receivers:
  otlp:
    storage: nothing
processors:
  batch:
    storage: nothing
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := convert(t, config(dir, tc.extra))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tc.want), err.Error())
			for i, w := range tc.want {
				assert.Contains(t, lines[i], w)
			}
		})
	}
}

func TestFileStorageDirectory(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	missing := filepath.Join(tmp, "missing")
	for _, tc := range []struct {
		name, ext, want string // want "": accepted
	}{
		{name: "exists", ext: "{directory: " + tmp + "}"},
		{name: "created", ext: "{directory: " + filepath.Join(missing, "deeper") + ", create_directory: true}"},
		{
			name: "missing",
			ext:  "{directory: " + missing + "}",
			want: `extensions::file_storage/x::directory: "` + missing + `" does not exist; create it, or set create_directory: true`,
		},
		{
			name: "a file",
			ext:  "{directory: " + file + "}",
			want: `extensions::file_storage/x::directory: "` + file + `" is not a directory`,
		},
		{
			name: "cannot be created under a file",
			ext:  "{directory: " + filepath.Join(file, "storage") + ", create_directory: true}",
			want: `extensions::file_storage/x::directory: "` + filepath.Join(file, "storage") + `" cannot be created: "` + file + `" is not a directory`,
		},
		{
			name: "compaction directory",
			ext:  "{directory: " + tmp + ", compaction: {on_start: true, directory: " + missing + "}}",
			want: `extensions::file_storage/x::compaction::directory: "` + missing + `" does not exist`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := convert(t, `
extensions:
  file_storage/x: `+tc.ext+`
  file_storage/off:
    directory: `+missing+`
service:
  extensions: [file_storage/x]
`)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "file_storage/off", "an extension that is not enabled is not started")
		})
	}
}

func TestFileStorageDirectoryNotWritable(t *testing.T) {
	ro := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(ro, 0o500))
	t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
	if os.Geteuid() == 0 {
		// Root writes into a read-only directory (CI runs as root), but
		// not into sysfs.
		if runtime.GOOS != "linux" {
			t.Skip("needs a directory root cannot write into; sysfs is Linux's")
		}
		ro = "/sys/kernel"
	}
	err := convert(t, config(ro, ""))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `extensions::file_storage::directory: "`+ro+`" is not writable: permission denied`)

	err = convert(t, `
extensions:
  file_storage: {directory: `+filepath.Join(ro, "storage")+`, create_directory: true}
service:
  extensions: [file_storage]
`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `extensions::file_storage::directory: "`+filepath.Join(ro, "storage")+`" cannot be created: "`+ro+`" is not writable: permission denied`)
}
