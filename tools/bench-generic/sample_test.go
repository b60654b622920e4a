package main

import (
	"os"
	"testing"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/procstat"
)

// TestSampleMax: the sampler keeps the largest value it read, which is
// at least what was there before it started (this process's anonymous
// memory only grows while the test holds buf).
func TestSampleMax(t *testing.T) {
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = 1
	}
	before, err := procstat.StatusBytes(os.Getpid(), "RssAnon")
	if err != nil {
		t.Fatal(err)
	}
	stop := sampleMax(os.Getpid(), "RssAnon", time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	peak := stop()
	if peak < before || peak < 32<<20 {
		t.Fatalf("peak %d, before %d, 32 MiB held", peak, before)
	}
	if buf[len(buf)-1] != 1 {
		t.Fatal("buf changed")
	}
	if v := sampleMax(os.Getpid(), "NoSuchKey", time.Millisecond)(); v != 0 {
		t.Fatalf("a missing key gave %d", v)
	}
}
