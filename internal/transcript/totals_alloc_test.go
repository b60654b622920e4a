package transcript

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShutdownDecodeBytes pins what decoding a real shutdown costs. Its
// totals by model and by agent come twice (in the accountingSnapshot and
// flat), a few entries each; as maps of ModelMetric values they cost
// 7.7 to 10.6 kB a shutdown (each map a group of eight slots of some
// 140 bytes), as lists 2.3 to 3.2 kB (3,360 B at most), and with the flat
// totals beside the snapshot skipped at most 2,064 B.
func TestShutdownDecodeBytes(t *testing.T) {
	const budget = 2560
	shutdowns := 0
	for _, path := range realTranscripts(t) {
		for i, line := range realLines(t, path) {
			if !bytes.Contains(line, []byte(`"type":"session.shutdown"`)) {
				continue
			}
			shutdowns++
			where := fmt.Sprintf("%s:%d", path, i+1)
			_, err := Decode(line, Options{})
			require.NoError(t, err, where)
			require.LessOrEqual(t, decodeBytes(line), uint64(budget), "%s: bytes allocated by one decode", where)
		}
	}
	require.Equal(t, 17, shutdowns)
}

// decodeBytes is the least that decoding line allocated in a few tries:
// the least, because the race detector makes the pool of decode states
// drop some, and anything else running allocates too.
func decodeBytes(line []byte) uint64 {
	least := ^uint64(0)
	var before, after runtime.MemStats
	for range 20 {
		runtime.ReadMemStats(&before)
		_, _ = Decode(line, Options{})
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}
