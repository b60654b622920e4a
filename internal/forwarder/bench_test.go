package forwarder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// bigTranscript writes a generated transcript of about mb megabytes.
func bigTranscript(b *testing.B, mb int) (string, string) {
	b.Helper()
	dir := b.TempDir()
	id := "00000000-0000-0000-0000-0000000000bb"
	path := filepath.Join(dir, "session-state", id, "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, err := transcriptgen.Write(f, transcriptgen.Options{Seed: 7, SessionID: id, Interactions: mb * 7, ToolOutputKB: 16, Billed: true, Subagents: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Bytes)
	return path, id
}

// BenchmarkUsageCold reads a whole transcript: the first hook of a
// session the forwarder has not seen.
//
//	go test ./internal/forwarder -run '^$' -bench Usage -benchtime 5x
func BenchmarkUsageCold(b *testing.B) {
	path, _ := bigTranscript(b, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := &UsageCounter{CacheDir: b.TempDir()}
		res, err := u.Usage(path, nil)
		if err != nil || res.Offset == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkUsageWarm is a hook of a session whose transcript did not grow
// since the previous hook: cache, fingerprint and tail checks only.
func BenchmarkUsageWarm(b *testing.B) {
	path, _ := bigTranscript(b, 64)
	u := &UsageCounter{CacheDir: b.TempDir()}
	if _, err := u.Usage(path, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := u.Usage(path, nil)
		if err != nil || res.Read != 0 {
			b.Fatal(err, res.Read)
		}
	}
}
