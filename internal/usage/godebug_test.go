package usage

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestJunctionsResolvedAsLinks holds the module's winsymlink=0 (go.mod):
// without it, Go 1.23 and later report a Windows directory junction as
// neither a directory nor a link and filepath.EvalSymlinks leaves it
// alone, so Confine would accept a transcript reached through a junction
// that leads out of the session directories. The setting applies to every
// binary and test of this module; CI also checks the Windows binaries'
// build information.
func TestJunctionsResolvedAsLinks(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	for _, s := range info.Settings {
		if s.Key != "DefaultGODEBUG" {
			continue
		}
		for _, kv := range strings.Split(s.Value, ",") {
			if kv == "winsymlink=0" {
				return
			}
		}
		t.Fatalf("DefaultGODEBUG is %q; go.mod must set godebug winsymlink=0", s.Value)
	}
	t.Fatal("no DefaultGODEBUG in the build information; go.mod must set godebug winsymlink=0")
}
