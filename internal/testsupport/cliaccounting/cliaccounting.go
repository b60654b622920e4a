// Package cliaccounting reads the Copilot CLI's own final accounting of a
// session from its transcript (events.jsonl), with plain encoding/json and
// nothing else of this repository, so that it can judge what the receiver
// exports: the accuracy tests and the crash test harness (tools/crashtest)
// compare the collector's output with it.
//
// The accounting is the CLI's, by model: the totals of the last shutdown
// that covers the whole session (its accountingSnapshot when there is one),
// plus those of the per-leg shutdowns after it, or the sum of all shutdowns
// when each covers its leg only; plus the usage records written after the
// last shutdown (a leg killed before its shutdown). With no shutdown, it is
// the sum of the usage records. Usage records count once per
// (accounting.sourceSessionId, accounting.sequence).
package cliaccounting

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// ModelTotals is a session's accounting of one model. Input includes the
// cached tokens and Output the reasoning tokens, as the CLI counts them.
type ModelTotals struct {
	Requests         int64
	PremiumCost      float64 // premium requests (the model multiplier), not money
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	NanoAIU          int64
}

// Add adds o to t.
func (t *ModelTotals) Add(o ModelTotals) {
	t.Requests += o.Requests
	t.PremiumCost += o.PremiumCost
	t.InputTokens += o.InputTokens
	t.OutputTokens += o.OutputTokens
	t.CacheReadTokens += o.CacheReadTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.ReasoningTokens += o.ReasoningTokens
	t.NanoAIU += o.NanoAIU
}

// Accounting is a session's final accounting.
type Accounting struct {
	// Models is the accounting by model; models with nothing counted are
	// left out.
	Models map[string]ModelTotals
	// Shutdowns is the number of session.shutdown events: one per leg that
	// ended normally.
	Shutdowns int
	// Records is the number of distinct usage records.
	Records int
	// DuplicateRecords is the number of usage records whose accounting id
	// was seen before in the file.
	DuplicateRecords int
}

// Total sums the accounting over the models.
func (a Accounting) Total() ModelTotals {
	var t ModelTotals
	for _, m := range a.Models {
		t.Add(m)
	}
	return t
}

type metric struct {
	Requests struct {
		Count float64 `json:"count"`
		Cost  float64 `json:"cost"`
	} `json:"requests"`
	Usage struct {
		InputTokens      float64 `json:"inputTokens"`
		OutputTokens     float64 `json:"outputTokens"`
		CacheReadTokens  float64 `json:"cacheReadTokens"`
		CacheWriteTokens float64 `json:"cacheWriteTokens"`
		ReasoningTokens  float64 `json:"reasoningTokens"`
	} `json:"usage"`
	TotalNanoAiu float64 `json:"totalNanoAiu"`
}

type shutdown struct {
	models     map[string]metric
	watermarks map[string]int64
	records    int // usage records before it
}

type record struct {
	model  string
	source string
	seq    int64
	hasID  bool
	totals ModelTotals
}

// File reads the transcript at path. perLeg says which shutdowns (by
// position, from 0) were written by a CLI that reports its leg only (before
// 1.0.66); nil means none. A line that is not a JSON event is an error.
func File(path string, perLeg func(i int) bool) (Accounting, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Accounting{}, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<30)
	var shutdowns []shutdown
	var records []record
	seen := map[[2]any]bool{}
	out := Accounting{Models: map[string]ModelTotals{}}
	for line := 1; sc.Scan(); line++ {
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return Accounting{}, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch ev.Type {
		case "session.shutdown":
			var d struct {
				Snapshot *struct {
					ModelMetrics map[string]metric `json:"modelMetrics"`
				} `json:"accountingSnapshot"`
				ModelMetrics map[string]metric `json:"modelMetrics"`
				Watermarks   map[string]int64  `json:"usageAccountingWatermarks"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return Accounting{}, fmt.Errorf("%s:%d: session.shutdown: %w", path, line, err)
			}
			s := shutdown{models: d.ModelMetrics, watermarks: d.Watermarks, records: len(records)}
			if d.Snapshot != nil {
				s.models = d.Snapshot.ModelMetrics
			}
			shutdowns = append(shutdowns, s)
		case "session.usage_record":
			var d struct {
				Usage struct {
					Model            string  `json:"model"`
					InputTokens      int64   `json:"inputTokens"`
					OutputTokens     int64   `json:"outputTokens"`
					CacheReadTokens  int64   `json:"cacheReadTokens"`
					CacheWriteTokens int64   `json:"cacheWriteTokens"`
					ReasoningTokens  int64   `json:"reasoningTokens"`
					Cost             float64 `json:"cost"`
					CopilotUsage     *struct {
						TotalNanoAiu int64 `json:"totalNanoAiu"`
					} `json:"copilotUsage"`
					Accounting *struct {
						SourceSessionID string `json:"sourceSessionId"`
						Sequence        *int64 `json:"sequence"`
					} `json:"accounting"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return Accounting{}, fmt.Errorf("%s:%d: session.usage_record: %w", path, line, err)
			}
			u := d.Usage
			r := record{model: u.Model, totals: ModelTotals{
				Requests:         1,
				PremiumCost:      u.Cost,
				InputTokens:      u.InputTokens,
				OutputTokens:     u.OutputTokens,
				CacheReadTokens:  u.CacheReadTokens,
				CacheWriteTokens: u.CacheWriteTokens,
				ReasoningTokens:  u.ReasoningTokens,
			}}
			if u.CopilotUsage != nil {
				r.totals.NanoAIU = u.CopilotUsage.TotalNanoAiu
			}
			if a := u.Accounting; a != nil && a.Sequence != nil {
				r.source, r.seq, r.hasID = a.SourceSessionID, *a.Sequence, true
				id := [2]any{r.source, r.seq}
				if seen[id] {
					out.DuplicateRecords++
					continue
				}
				seen[id] = true
			}
			records = append(records, r)
		}
	}
	if err := sc.Err(); err != nil {
		return Accounting{}, fmt.Errorf("%s: %w", path, err)
	}
	out.Shutdowns = len(shutdowns)
	out.Records = len(records)
	addRecords := func(rs []record) {
		for _, r := range rs {
			m := out.Models[r.model]
			m.Add(r.totals)
			out.Models[r.model] = m
		}
	}
	if len(shutdowns) == 0 {
		addRecords(records)
		out.dropEmpty()
		return out, nil
	}
	// A cumulative shutdown covers everything before it; a per-leg one only
	// its leg.
	from := 0
	for i := len(shutdowns) - 1; i >= 0; i-- {
		if perLeg == nil || !perLeg(i) {
			from = i
			break
		}
	}
	for _, s := range shutdowns[from:] {
		for name, mm := range s.models {
			m := out.Models[name]
			m.Add(ModelTotals{
				Requests:         int64(mm.Requests.Count),
				PremiumCost:      mm.Requests.Cost,
				InputTokens:      int64(mm.Usage.InputTokens),
				OutputTokens:     int64(mm.Usage.OutputTokens),
				CacheReadTokens:  int64(mm.Usage.CacheReadTokens),
				CacheWriteTokens: int64(mm.Usage.CacheWriteTokens),
				ReasoningTokens:  int64(mm.Usage.ReasoningTokens),
				NanoAIU:          int64(mm.TotalNanoAiu),
			})
			out.Models[name] = m
		}
	}
	// Calls after the last shutdown (a leg that was killed) are in no
	// shutdown's totals; the watermarks say which calls a shutdown covers
	// when it names them.
	last := shutdowns[len(shutdowns)-1]
	var after []record
	for _, r := range records[last.records:] {
		if w, ok := last.watermarks[r.source]; ok && r.hasID && r.seq <= w {
			continue
		}
		after = append(after, r)
	}
	addRecords(after)
	out.dropEmpty()
	return out, nil
}

func (a *Accounting) dropEmpty() {
	for k, v := range a.Models {
		if v == (ModelTotals{}) {
			delete(a.Models, k)
		}
	}
}
