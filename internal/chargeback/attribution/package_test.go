package attribution

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine, such as a reload
// loop a test did not shut down, outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
