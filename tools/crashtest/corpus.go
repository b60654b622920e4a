package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// corpusSession is one generated session: its bytes, where its lines end,
// and what the generator says it wrote.
type corpusSession struct {
	id      string
	path    string
	opts    transcriptgen.Options
	data    []byte
	lineEnd []int // offset after each line's newline
	stats   transcriptgen.Stats
	history bool // written whole before the agent first starts

	// The live writer appends the session's lines while the run's progress
	// (0 to 1) goes from start to start+span.
	start, span float64
	written     int // lines written
}

// corpus is the generated sessions of a run.
type corpus struct {
	dir      string // COPILOT_HOME/session-state
	sessions []*corpusSession
	bytes    int64
	records  int
}

// kinds counts the sessions of each sort, for the run's header.
func (c *corpus) kinds() (resumed, subagents, killed, billed int) {
	for _, s := range c.sessions {
		if s.opts.Resume {
			resumed++
		}
		if s.opts.Subagents {
			subagents++
		}
		if s.opts.Killed {
			killed++
		}
		if s.opts.Billed {
			billed++
		}
	}
	return
}

var corpusModels = []string{"claude-sonnet-4.6", "claude-opus-4.6", "claude-haiku-4.5", "gpt-5.3-codex", "gpt-5-mini"}

// generate makes n sessions from seed, in memory. The first four are a
// resumed session (two shutdowns), one with subagents, one killed without a
// shutdown, and a resumed one killed in its second leg, so that every run
// has each kind; the rest are drawn at random. historyShare of them
// (chosen at random) are to be on disk before the agent starts.
func generate(dir string, n int, seed uint64, historyShare float64) (*corpus, error) {
	r := rand.New(rand.NewPCG(seed, 0xc0ffee))
	c := &corpus{dir: dir}
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		o := transcriptgen.Options{
			Seed:           int64(r.Uint64() >> 1),
			SystemPromptKB: 8,
			ToolOutputKB:   1 + r.IntN(2),
			Models:         []string{corpusModels[r.IntN(len(corpusModels))]},
			Billed:         r.IntN(2) == 0,
			Subagents:      r.IntN(5) == 0,
			Resume:         r.IntN(7) == 0,
			Killed:         r.IntN(10) == 0,
		}
		switch p := r.IntN(100); {
		case p < 70:
			o.Interactions = 1
		case p < 95:
			o.Interactions = 2 + r.IntN(2)
		default:
			o.Interactions = 4 + r.IntN(5)
		}
		if r.IntN(10) == 0 {
			o.Models = append(o.Models, corpusModels[r.IntN(len(corpusModels))])
		}
		switch i {
		case 0:
			o.Resume, o.Killed, o.Interactions = true, false, 3
		case 1:
			o.Subagents, o.Killed, o.Interactions = true, false, 2
		case 2:
			o.Killed, o.Resume = true, false
		case 3:
			o.Resume, o.Killed, o.Subagents, o.Interactions = true, true, true, 4
		}
		var buf bytes.Buffer
		st, err := transcriptgen.Write(&buf, o)
		if err != nil {
			return nil, err
		}
		if ids[st.SessionID] {
			return nil, fmt.Errorf("generated session id %s twice", st.SessionID)
		}
		ids[st.SessionID] = true
		s := &corpusSession{
			id: st.SessionID, path: filepath.Join(dir, st.SessionID, "events.jsonl"),
			opts: o, data: buf.Bytes(), stats: st, history: r.Float64() < historyShare,
		}
		for j, b := range s.data {
			if b == '\n' {
				s.lineEnd = append(s.lineEnd, j+1)
			}
		}
		c.sessions = append(c.sessions, s)
		c.bytes += int64(len(s.data))
		c.records += st.UsageRecords
	}
	return c, nil
}

// writeHistory writes the history sessions whole.
func (c *corpus) writeHistory() error {
	for _, s := range c.sessions {
		if !s.history {
			continue
		}
		if err := s.append(len(s.lineEnd)); err != nil {
			return err
		}
	}
	return nil
}

// append writes the session's lines up to line n (exclusive) that are not
// written yet, in one write, as the CLI appends a batch of events.
func (s *corpusSession) append(n int) error {
	if n <= s.written {
		return nil
	}
	from := 0
	if s.written > 0 {
		from = s.lineEnd[s.written-1]
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(s.data[from:s.lineEnd[n-1]])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	s.written = n
	return err
}

// schedule spreads the live sessions over the run's progress: each starts
// within the first 70% of it and writes its lines over 10-30% of it.
func (c *corpus) schedule(r *rand.Rand) {
	for _, s := range c.sessions {
		if s.history {
			continue
		}
		s.start = 0.7 * r.Float64()
		s.span = 0.1 + 0.2*r.Float64()
	}
}

// writeLive appends the live sessions' lines as scheduled, every tick, as
// progress (non-decreasing, 0 to 1) goes, until all are written or ctx
// ends.
func (c *corpus) writeLive(ctx context.Context, tick time.Duration, progress func() float64) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		el := progress()
		pending := false
		for _, s := range c.sessions {
			if s.written == len(s.lineEnd) {
				continue
			}
			pending = true
			if el < s.start {
				continue
			}
			n := len(s.lineEnd)
			if el < s.start+s.span {
				n = int(float64(n) * float64(el-s.start) / float64(s.span))
			}
			if err := s.append(n); err != nil {
				return err
			}
		}
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// expected is the CLI's own final accounting of each session, read back
// from the files on disk with package cliaccounting, and checked against
// what the generator says it wrote: two independent sources that must
// agree before the collector's output is judged against them.
func (c *corpus) expected() (map[string]cliaccounting.Accounting, error) {
	out := make(map[string]cliaccounting.Accounting, len(c.sessions))
	for _, s := range c.sessions {
		a, err := cliaccounting.File(s.path, nil)
		if err != nil {
			return nil, err
		}
		if a.Shutdowns != s.stats.Shutdowns || a.Records != s.stats.UsageRecords || len(a.Models) != len(s.stats.Totals) {
			return nil, fmt.Errorf("session %s: the transcript's accounting (%d shutdowns, %d records, %d models) disagrees with the generator's (%d, %d, %d)",
				s.id, a.Shutdowns, a.Records, len(a.Models), s.stats.Shutdowns, s.stats.UsageRecords, len(s.stats.Totals))
		}
		for model, w := range s.stats.Totals {
			g := a.Models[model]
			if g.Requests != w.Requests || g.InputTokens != w.InputTokens || g.OutputTokens != w.OutputTokens ||
				g.CacheReadTokens != w.CacheReadTokens || g.CacheWriteTokens != w.CacheWriteTokens ||
				g.ReasoningTokens != w.ReasoningTokens || g.NanoAIU != w.NanoAIU || !closeEnough(g.PremiumCost, w.Cost) {
				return nil, fmt.Errorf("session %s, model %s: the transcript's accounting %+v disagrees with the generator's %+v", s.id, model, g, w)
			}
		}
		out[s.id] = a
	}
	return out, nil
}

// closeEnough compares premium request sums, which are sums of multipliers
// such as 0.33 added in different orders.
func closeEnough(a, b float64) bool {
	d := a - b
	return d < 1e-6 && d > -1e-6
}
