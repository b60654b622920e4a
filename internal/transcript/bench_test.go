package transcript

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// benchCorpus is the concatenation of the real transcripts, repeated to
// about size bytes.
func benchCorpus(b *testing.B, size int) ([]byte, int) {
	var one []byte
	lines := 0
	for _, path := range realTranscripts(b) {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, data...)
		lines += bytes.Count(data, nl)
	}
	reps := max(1, size/len(one))
	return bytes.Repeat(one, reps), lines * reps
}

// BenchmarkReader reads about 50 MB of real transcripts.
//
//	go test ./internal/transcript -run '^$' -bench BenchmarkReader -benchmem
func BenchmarkReader(b *testing.B) {
	data, events := benchCorpus(b, 50<<20)
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"accounting", Options{}},
		{"content", Options{CaptureContent: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(data), 0, 0, bc.opts)
				r.Final = true
				n := 0
				for {
					it, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil || it.Event == nil {
						b.Fatalf("%v %v", err, it.Skip)
					}
					n++
				}
				if n != events {
					b.Fatalf("read %d events, want %d", n, events)
				}
			}
			b.ReportMetric(float64(events), "events/op")
		})
	}
}
