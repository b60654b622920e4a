package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// checkAll reads every recorded events.jsonl under out with the project's
// transcript reader and reports, per file, how many events it read and
// every line it skipped with the reason. It fails if any line was skipped.
func checkAll(out string, w io.Writer) error {
	files, err := filepath.Glob(filepath.Join(out, "*", "session-state", "*", "events.jsonl"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	skipped := 0
	for _, f := range files {
		events, skips, repaired, err := checkFile(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rel, _ := filepath.Rel(out, f)
		status := "ok"
		if len(skips) > 0 {
			status = fmt.Sprintf("%d skipped", len(skips))
		}
		if len(repaired) > 0 {
			status += fmt.Sprintf(", %d repaired", len(repaired))
		}
		fmt.Fprintf(w, "check %s: %d events, %s\n", rel, events, status)
		for _, s := range skips {
			fmt.Fprintf(w, "    skip: %s\n", s)
		}
		for _, s := range repaired {
			fmt.Fprintf(w, "    repaired: %s\n", s)
		}
		skipped += len(skips)
	}
	if len(files) == 0 {
		return fmt.Errorf("no transcripts under %s", out)
	}
	if skipped > 0 {
		return fmt.Errorf("%d line(s) could not be read", skipped)
	}
	return nil
}

func checkFile(path string) (events int, skips, repaired []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, nil, err
	}
	defer f.Close()
	r := transcript.NewReader(f, 0, 0, transcript.Options{})
	r.Final = true
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return events, skips, repaired, err
		}
		switch {
		case it.Skip != nil:
			skips = append(skips, fmt.Sprintf("ending at byte %d: %s", it.End, it.Skip.Error()))
		case it.Event != nil:
			events++
			if it.Repaired {
				repaired = append(repaired, fmt.Sprintf("%s ending at byte %d", it.Event.Type, it.End))
			}
		}
	}
	return events, skips, repaired, nil
}
