package report

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Progress is how far a read of transcripts is.
type Progress struct {
	Files, FilesDone int
	Bytes, BytesDone int64
}

// Transcripts reads Copilot CLI transcripts with the receiver's cursor
// and accounting (package session): one record per usage fact, so that
// the report's totals are the ones the receiver exports, attributed and
// priced by the chargeback processor's rules and prices.
type Transcripts struct {
	// Globs name the transcripts (events.jsonl files).
	Globs []string
	// User is the user the spend is attributed to, as the receiver's
	// session_state.user (by default the account that runs it).
	User     string
	Resolver *attribution.Resolver
	Pricer   *pricing.Pricer
	// Progress, when set, is called after each file, and within a long
	// one every 4096 lines.
	Progress func(Progress)
}

// Files lists the transcripts the globs name, sorted, each once.
func (t *Transcripts) Files() ([]string, error) {
	var files []string
	for _, g := range t.Globs {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Records reads every transcript to its end and yields its usage.
func (t *Transcripts) Records(ctx context.Context, yield func(Record) error) error {
	files, err := t.Files()
	if err != nil {
		return err
	}
	p := Progress{Files: len(files)}
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			sizes[i] = st.Size()
			p.Bytes += st.Size()
		}
	}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		inFile := func(off int64) {
			if t.Progress != nil {
				q := p
				q.BytesDone += min(off, sizes[i])
				t.Progress(q)
			}
		}
		if err := t.file(f, yield, inFile); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		p.FilesDone++
		p.BytesDone += sizes[i]
		if t.Progress != nil {
			t.Progress(p)
		}
	}
	return nil
}

// file reads one transcript; progress is told the offset reached now and
// then in a long one.
func (t *Transcripts) file(path string, yield func(Record) error, progress func(int64)) error {
	c := session.NewCursor(path, session.CursorOptions{})
	rd, err := c.Open(session.ReadOptions{Final: true})
	if err != nil {
		return err
	}
	defer rd.Close()
	var facts session.Facts
	seen := map[string]int{}
	flush := func() error {
		for i := range facts.Usage {
			if err := yield(t.record(&facts.Usage[i], seen)); err != nil {
				return err
			}
		}
		facts.Reset()
		return nil
	}
	for n := 1; ; n++ {
		_, err := rd.Next(&facts)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n%4096 == 0 {
			progress(c.Offset())
		}
		if len(facts.Usage) >= 256 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return rd.Done()
}

// record attributes and prices a usage fact.
func (t *Transcripts) record(f *session.UsageFact, seen map[string]int) Record {
	ctx := f.Ctx
	att := t.Resolver.Resolve(chargeback.Input(ctx, t.User, f.Agent.Name))
	r := Record{
		ID:         recordID(f, seen),
		Start:      f.Start,
		End:        f.Time,
		SessionID:  ctx.SessionID,
		User:       t.User,
		Repository: ctx.Repository,
		Branch:     ctx.Branch,
		Ticket:     att.Ticket,
		Team:       att.Team,
		Project:    att.Project,
		CostCenter: att.CostCenter,
		Model:      f.Model,
		Agent:      f.Agent.Name,

		Requests:         f.Usage.Requests,
		InputTokens:      f.Usage.InputTokens,
		OutputTokens:     f.Usage.OutputTokens,
		CacheReadTokens:  f.Usage.CacheReadTokens,
		CacheWriteTokens: f.Usage.CacheWriteTokens,
		ReasoningTokens:  f.Usage.ReasoningTokens,
		NanoAIU:          f.Usage.NanoAIU,
		PremiumRequests:  f.Usage.PremiumCost,
		APIDurationMs:    f.Usage.APIDurationMs,
		Currency:         t.Pricer.Currency(),
	}
	var methods []string
	for _, c := range t.Pricer.Price(chargeback.PricingUsage(f.Model, f.Usage)) {
		r.Cost = r.Cost.Add(c.Amount)
		methods = append(methods, c.Method)
	}
	r.CostMethod = strings.Join(methods, "+")
	return r
}

// recordID is stable across reads: a model call by the span id the
// receiver derives from the session and the call's accounting id, usage
// from totals by where and when it was counted.
func recordID(f *session.UsageFact, seen map[string]int) string {
	var id string
	if f.Source == session.SourceRecord {
		id = f.Ctx.SessionID + "/" + hex.EncodeToString(f.Span.ID[:])
	} else {
		id = f.Ctx.SessionID + "/" + f.Source + "/" + f.Agent.ID + "/" + f.Model + "/" + f.Time.UTC().Format(time.RFC3339Nano)
	}
	n := seen[id]
	seen[id] = n + 1
	if n > 0 {
		id += fmt.Sprintf("#%d", n)
	}
	return id
}
