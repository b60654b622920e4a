package transcript

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFingerprintAllocs checks that fingerprinting a transcript, marking
// its tail and checking both allocate nothing: it is done for every file
// opened, thousands of them in a backlog.
func TestFingerprintAllocs(t *testing.T) {
	f, err := os.Open(realTranscripts(t)[0])
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	size := st.Size()
	require.Greater(t, size, int64(FingerprintSize))

	allocs := testing.AllocsPerRun(100, func() {
		var fp Fingerprint
		same, err := fp.Check(f, size, 0)
		if err != nil || !same || fp.Len != FingerprintSize {
			t.Fatalf("first check: same=%v len=%d err=%v", same, fp.Len, err)
		}
		if err := fp.MarkTail(f, size); err != nil || fp.TailLen != TailSize {
			t.Fatalf("mark: len=%d err=%v", fp.TailLen, err)
		}
		same, err = fp.Check(f, size, size)
		if err != nil || !same {
			t.Fatalf("second check: same=%v err=%v", same, err)
		}
	})
	require.Zero(t, allocs)
}
