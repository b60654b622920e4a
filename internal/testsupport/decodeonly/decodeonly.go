// Package decodeonly reads transcripts with the copilot receiver's decoder
// and nothing after it: the floor that BenchmarkTranscriptPath and
// tools/bench-generic measure the receiver's path against.
package decodeonly // import "github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/decodeonly"

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// NewReader is a reader configured as the receiver's tailer configures
// its own (ids decoded only for events that carry usage), to be reset for
// each file.
func NewReader() *transcript.Reader {
	return transcript.NewReader(nil, 0, 0, transcript.Options{UsageIDsOnly: true})
}

// File decodes every line of the transcript at path with rd, as a finished
// transcript, and returns the number of events. A line that is not an
// event is an error: the floor is measured on clean transcripts.
func File(rd *transcript.Reader, path string) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	rd.Reset(fh, 0)
	rd.Final = true
	events := 0
	for {
		it, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err == nil && it.Event == nil {
			err = it.Skip
		}
		if err != nil {
			return events, fmt.Errorf("%s: %w", path, err)
		}
		events++
	}
}
