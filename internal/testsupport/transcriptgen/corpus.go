package transcriptgen

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// EstimateBytes is about the size Write produces for o: the mean over
// seeds, within a few tens of percent for sessions of several
// interactions (a single session can differ more: a rare huge tool output
// adds megabytes).
func (o Options) EstimateBytes() int64 {
	o = o.withDefaults()
	perInteraction := int64(estPerInteraction) + int64(estPerOutputKB)*int64(o.ToolOutputKB)<<10/1000
	if o.Subagents {
		perInteraction = perInteraction*5/4 + estPerSubagentInteraction
	}
	n := int64(estBase) + int64(o.SystemPromptKB)<<10 + perInteraction*int64(o.Interactions)
	if o.Resume {
		n += estBase
	}
	return n
}

// Calibrated by measuring the mean size over many seeds.
const (
	estBase           = 6000
	estPerInteraction = 26000
	estPerOutputKB    = 4300 // per mille: bytes per interaction per byte of typical output
	// Subagents add their own system prompt and turns.
	estPerSubagentInteraction = 20000
)

// CorpusSession is one session of a corpus.
type CorpusSession struct {
	Path    string // dir/<sessionId>/events.jsonl
	Options Options
	Stats   Stats
}

// CorpusStats describe a corpus.
type CorpusStats struct {
	Sessions     []CorpusSession
	Bytes        int64
	Events       int
	UsageRecords int
	MaxLineBytes int
	Totals       map[string]ModelTotals // by model, over all sessions
}

var corpusModels = []string{"claude-sonnet-4.6", "claude-sonnet-4.5", "claude-opus-4.6", "claude-haiku-4.5",
	"gpt-5.3-codex", "gpt-5.2", "gpt-5-mini", "gpt-4.1"}

// corpusOptions draws the options of the next session of a corpus, with
// remaining bytes left to write. Most sessions are short; a few run for
// hours and dominate the bytes, as in real session-state directories.
func corpusOptions(r *rng, remaining int64) Options {
	o := Options{Seed: int64(r.next() >> 1), SystemPromptKB: 22}
	switch c := r.intn(10000); {
	case c < 7000: // one question
		o.Interactions, o.ToolOutputKB = 1, 1
	case c < 9500:
		o.Interactions, o.ToolOutputKB = r.between(1, 3), r.between(1, 3)
	case c < 9990:
		o.Interactions, o.ToolOutputKB = r.between(3, 15), r.between(2, 12)
	default: // a marathon of tens to hundreds of megabytes
		o.Interactions, o.ToolOutputKB = r.between(40, 400), r.between(16, 64)
	}
	o.Models = []string{pick(r, corpusModels)}
	if r.chance(200) {
		o.Models = append(o.Models, pick(r, corpusModels))
	}
	o.Billed = r.chance(500)
	o.Subagents = r.chance(350)
	o.Resume = r.chance(100)
	o.Killed = r.chance(30)
	// Do not overshoot the corpus size by much.
	for o.Interactions > 1 && o.EstimateBytes() > remaining {
		o.Interactions = max(1, o.Interactions*2/3)
	}
	return o
}

// Corpus writes sessions under dir/<sessionId>/events.jsonl, with options
// drawn from seed, until about totalBytes are written. The same seed and
// size give the same files. Sessions are written in parallel; which
// sessions make up the corpus depends only on the seed and the size.
func Corpus(dir string, seed int64, totalBytes int64) (CorpusStats, error) {
	cs := CorpusStats{Totals: map[string]ModelTotals{}}
	if totalBytes <= 0 {
		return cs, errors.New("transcriptgen: totalBytes must be positive")
	}
	r := newRNG(seed)
	for cs.Bytes < totalBytes {
		// Plan sessions by their estimated size, write them, and plan more
		// if the estimates fell short.
		var batch []Options
		for planned := cs.Bytes; planned < totalBytes; {
			o := corpusOptions(r, totalBytes-planned).withDefaults()
			batch = append(batch, o)
			planned += o.EstimateBytes()
		}
		sessions, err := writeSessions(dir, batch)
		for _, s := range sessions {
			cs.Sessions = append(cs.Sessions, s)
			st := s.Stats
			cs.Bytes += st.Bytes
			cs.Events += st.Events
			cs.UsageRecords += st.UsageRecords
			cs.MaxLineBytes = max(cs.MaxLineBytes, st.MaxLineBytes)
			for m, t := range st.Totals {
				x := cs.Totals[m]
				x.add(t)
				cs.Totals[m] = x
			}
		}
		if err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// writeSessions writes the sessions of batch in parallel and returns them
// in order; on error, the ones before the first failure.
func writeSessions(dir string, batch []Options) ([]CorpusSession, error) {
	out := make([]CorpusSession, len(batch))
	errs := make([]error, len(batch))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(batch)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = writeSession(dir, batch[i])
			}
		}()
	}
	for i := range batch {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

func writeSession(dir string, o Options) (CorpusSession, error) {
	sdir := filepath.Join(dir, o.SessionID)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return CorpusSession{}, err
	}
	path := filepath.Join(sdir, "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return CorpusSession{}, err
	}
	st, err := Write(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return CorpusSession{Path: path, Options: o, Stats: st}, err
}
