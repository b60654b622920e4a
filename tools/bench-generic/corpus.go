package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// corpus is a session-state directory of generated transcripts and what the
// CLI's own accounting says they hold.
type corpus struct {
	Dir          string // the session-state directory: Dir/<sessionId>/events.jsonl
	Files        int
	Target       int64 // the -size asked for
	Seed         int64
	Bytes        int64
	Events       int
	UsageRecords int
	Paths        []string
	// Want is the CLI's own accounting (cliaccounting) summed over the
	// sessions, by model.
	Want Totals
}

func (c *corpus) glob() string { return filepath.Join(c.Dir, "*", "events.jsonl") }

const manifestName = "bench-generic.json"

// loadOrMakeCorpus reuses the corpus in dir when its manifest says it was
// made with the same files, size and seed, and makes it otherwise.
func loadOrMakeCorpus(dir string, files int, size, seed int64) (*corpus, error) {
	mpath := filepath.Join(filepath.Dir(dir), manifestName)
	if b, err := os.ReadFile(mpath); err == nil {
		var c corpus
		if json.Unmarshal(b, &c) == nil && c.Dir == dir && c.Files == files && c.Target == size && c.Seed == seed && c.complete() {
			fmt.Printf("corpus: reusing %s\n", dir)
			return &c, ageFiles(c.Paths)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	c, err := makeCorpus(dir, files, size, seed)
	if err != nil {
		return nil, err
	}
	if err := ageFiles(c.Paths); err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return c, os.WriteFile(mpath, b, 0o644)
}

// complete says whether every file of the manifest is there with its size.
func (c *corpus) complete() bool {
	var n int64
	for _, p := range c.Paths {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		n += fi.Size()
	}
	return n == c.Bytes
}

var corpusModels = []string{"claude-sonnet-4.6", "claude-sonnet-4.5", "claude-opus-4.6", "claude-haiku-4.5",
	"gpt-5.3-codex", "gpt-5.2", "gpt-5-mini", "gpt-4.1"}

// makeCorpus writes files sessions of about size bytes in all with
// transcriptgen, which writes the events as the real CLI 1.0.102 does
// (testdata/copilot-cli), each session with a fresh id. Most sessions are
// short and a few long ones hold much of the bytes, as in real
// session-state directories; each session's size is aimed at what is left
// over what is left to write, so the total lands near size.
func makeCorpus(dir string, files int, size, seed int64) (*corpus, error) {
	if files <= 0 || size <= 0 {
		return nil, errors.New("-files and -size must be positive")
	}
	c := &corpus{Dir: dir, Files: files, Target: size, Seed: seed}
	r := rand.New(rand.NewPCG(uint64(seed), 0xbe4c4))
	const chunk = 16
	// Sessions come out larger than transcriptgen's estimate by some
	// ratio; aim at the estimate that gives the size wanted.
	var estimated int64
	for len(c.Paths) < files {
		ratio := 1.0
		if estimated > 0 {
			ratio = float64(c.Bytes) / float64(estimated)
		}
		var batch []transcriptgen.Options
		for i := 0; i < chunk && len(c.Paths)+len(batch) < files; i++ {
			left := files - len(c.Paths)
			mean := max(1, size-c.Bytes) / int64(left)
			// No session bigger than what the others leave, at about
			// the least size a session has.
			most := size - c.Bytes - int64(left-1)*minSession
			batch = append(batch, sessionOptions(r, int64(float64(mean)/ratio), int64(float64(most)/ratio)))
		}
		sts, err := writeSessions(dir, batch)
		if err != nil {
			return nil, err
		}
		for i, st := range sts {
			estimated += batch[i].EstimateBytes()
			c.Paths = append(c.Paths, filepath.Join(dir, st.SessionID, "events.jsonl"))
			c.Bytes += st.Bytes
			c.Events += st.Events
			c.UsageRecords += st.UsageRecords
		}
	}
	want, err := accounting(c.Paths)
	if err != nil {
		return nil, err
	}
	c.Want = want
	return c, nil
}

// sessionOptions draws one session of about mean*w bytes (estimated), w
// from a heavy-tailed spread with mean 1, and at most most bytes.
// minSession is about the mean size of the shortest session
// sessionOptions makes (one interaction, a 1 KiB system prompt).
const minSession = 36000

func sessionOptions(r *rand.Rand, mean, most int64) transcriptgen.Options {
	var w float64
	switch c := r.IntN(1000); {
	case c < 700: // one question
		w = 0.35
	case c < 950:
		w = 1.2
	case c < 999:
		w = 5
	default: // a marathon
		w = 100
	}
	target := min(int64(w/0.89*float64(mean)), most)
	o := transcriptgen.Options{
		Seed:           r.Int64(),
		Interactions:   1,
		ToolOutputKB:   1 + r.IntN(8),
		SystemPromptKB: 22,
		Models:         []string{corpusModels[r.IntN(len(corpusModels))]},
		Billed:         r.IntN(2) == 0,
		Subagents:      r.IntN(20) == 0,
		Killed:         r.IntN(30) == 0,
	}
	if r.IntN(20) == 0 {
		o.Models = append(o.Models, corpusModels[r.IntN(len(corpusModels))])
	}
	if base := o.EstimateBytes(); target < base {
		// Shorter than one interaction with the usual system prompt.
		o.ToolOutputKB = 1
		o.SystemPromptKB = max(1, 22-int((o.EstimateBytes()-target)>>10))
		return o
	}
	one := o.EstimateBytes()
	o.Interactions = 2
	per := o.EstimateBytes() - one
	o.Interactions = 1 + int((target-one+per/2)/per)
	if o.Interactions >= 2 && r.IntN(20) == 0 {
		o.Resume = true
	}
	return o
}

func writeSessions(dir string, batch []transcriptgen.Options) ([]transcriptgen.Stats, error) {
	out := make([]transcriptgen.Stats, len(batch))
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(batch)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = writeSession(dir, batch[i])
			}
		})
	}
	for i := range batch {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

func writeSession(dir string, o transcriptgen.Options) (transcriptgen.Stats, error) {
	f, err := os.CreateTemp(dir, "writing-")
	if err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return transcriptgen.Stats{}, err
		}
		if f, err = os.CreateTemp(dir, "writing-"); err != nil {
			return transcriptgen.Stats{}, err
		}
	}
	st, err := transcriptgen.Write(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return st, err
	}
	sdir := filepath.Join(dir, st.SessionID)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return st, err
	}
	return st, os.Rename(f.Name(), filepath.Join(sdir, "events.jsonl"))
}

// accounting is the CLI's own final accounting of the sessions, summed by
// model, read by cliaccounting (plain encoding/json).
func accounting(paths []string) (Totals, error) {
	var mu sync.Mutex
	want := Totals{}
	var wg sync.WaitGroup
	next := make(chan string)
	var firstErr error
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range next {
				a, err := cliaccounting.File(p, nil)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for m, t := range a.Models {
					u := want[m]
					u.add(Usage{Requests: t.Requests, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
						CacheReadTokens: t.CacheReadTokens, CacheWriteTokens: t.CacheWriteTokens, NanoAIU: t.NanoAIU})
					want[m] = u
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return want, firstErr
}

// ageFiles sets each transcript's modification time to its last event's
// timestamp, as the CLI leaves a session-state directory: the sessions of
// a corpus are finished, most of them long ago, not written a minute
// before the run (the receiver looks at long-finished sessions less often).
func ageFiles(paths []string) error {
	key := []byte(`"timestamp":"`)
	buf := make([]byte, 16<<10)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil {
			off := max(st.Size()-int64(len(buf)), 0)
			var n int
			n, err = f.ReadAt(buf, off)
			if err == io.EOF {
				err = nil
			}
			tail := buf[:n]
			if i := bytes.LastIndex(tail, key); i >= 0 && err == nil {
				rest := tail[i+len(key):]
				if j := bytes.IndexByte(rest, '"'); j > 0 {
					if ts, perr := time.Parse(time.RFC3339Nano, string(rest[:j])); perr == nil {
						err = os.Chtimes(p, ts, ts)
					}
				}
			}
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}
