package report

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: whatever the configuration file holds, LoadConfig
// returns a configuration or an error, and never panics.
func FuzzLoadConfig(f *testing.F) {
	for _, name := range []string{"collector.yaml", "chargeback-block.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte("processors: {chargeback/x: {attribution: {rules: [{set: {team: a}}], ticket: {mapping: {main: X-1}}}}}"), "x")
	f.Add([]byte("a: &a [*a]\nattribution: *a"), "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = LoadConfig(p, name)
	})
}
