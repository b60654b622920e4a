//go:build dockerbuild

package docker

// Runs each Dockerfile's build stage without Docker: its go build command,
// with its environment, on a copy of the build context (.dockerignore
// applied), for this machine's GOOS and GOARCH. Slow (a full build with
// CGO_ENABLED=0 of each distribution); .ci/run runs it:
//
//	go test -tags dockerbuild -count=1 ./deploy/docker/ -v

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildStage(t *testing.T) {
	require.Equal(t, "linux", runtime.GOOS, "the images are Linux; run this on Linux")
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	context := copyContext(t, root, dockerignore(t, filepath.Join(root, ".dockerignore")))
	for _, img := range images {
		t.Run(img.file, func(t *testing.T) {
			bc := buildCommandOf(t, parse(t, img.file)[0])
			bin := filepath.Join(t.TempDir(), img.dist)
			args := append([]string(nil), bc.args...)
			for i, a := range args {
				if a == "-o" {
					args[i+1] = bin
				}
			}
			cmd := exec.Command("go", args...)
			cmd.Dir = context
			cmd.Env = os.Environ()
			for _, kv := range bc.env {
				kv = strings.NewReplacer("${TARGETOS}", runtime.GOOS, "${TARGETARCH}", runtime.GOARCH).Replace(kv)
				cmd.Env = append(cmd.Env, kv)
			}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "go %s (env %v): %s", strings.Join(args, " "), bc.env, out)

			// Static: no program interpreter, no dynamic section, so it
			// runs on distroless/static, which has no libc.
			f, err := elf.Open(bin)
			require.NoError(t, err)
			defer f.Close()
			for _, p := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary names a dynamic loader")
				assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "the binary is dynamically linked")
			}
			assert.Nil(t, f.Section(".interp"))
			assert.Nil(t, f.Section(".dynamic"))

			comp, err := exec.Command(bin, "components").CombinedOutput()
			require.NoError(t, err, "%s components: %s", img.dist, comp)
			assert.Contains(t, string(comp), "command: "+img.dist)
			assert.Contains(t, string(comp), "name: copilot")
			if fi, err := os.Stat(bin); err == nil {
				t.Logf("%s: %.1f MB", img.dist, float64(fi.Size())/(1<<20))
			}
		})
	}
}

// copyContext copies the build context, what `docker build .` at root
// sends: everything but what the .dockerignore patterns leave out.
func copyContext(t *testing.T, root string, patterns []string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		if ignored(patterns, filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil // symbolic links and the like: none the build needs
	})
	require.NoError(t, err)
	return dst
}
