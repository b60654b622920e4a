package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

// Fault kinds.
const (
	faultKill        = "kill"         // the agent, SIGKILL
	faultTerm        = "term"         // the agent, SIGTERM (a graceful stop)
	faultGatewayKill = "gateway-kill" // the gateway, SIGKILL, and restarted after an outage
)

// fault is one fault the harness caused, and where the gateway's files
// ended once it had taken effect.
type fault struct {
	Kind    string
	At      float64          // seconds since the run began
	Offsets map[string]int64 // size of each signal's file just after
	Stalled bool             // the gateway was paused (SIGSTOP) when the agent was stopped
	// Timeout: a graceful stop that did not end in time, so that the agent
	// was killed after all.
	Timeout bool
	// Signaled: SIGTERM ended the agent without a graceful shutdown.
	Signaled bool
}

// request is one request the gateway accepted: one JSON value in its file.
type request struct {
	offset int64
	raw    []byte
	sum    [32]byte
	line   int // 1-based position in its file, once read as unique
}

// readRequests reads a gateway file. Each line is one request; a line the
// gateway wrote without its newline because it was killed in between runs
// into the next one, so a line may hold several JSON values, which are
// taken one by one. What cannot be decoded is counted, not judged.
func readRequests(path string) (reqs []request, unreadable int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			dec := json.NewDecoder(bytes.NewReader(line))
			for {
				var raw json.RawMessage
				at := dec.InputOffset()
				if derr := dec.Decode(&raw); derr == io.EOF {
					break
				} else if derr != nil {
					unreadable++
					break
				}
				// Skip the white space before the value in its offset.
				for at < int64(len(line)) && (line[at] == ' ' || line[at] == '\n' || line[at] == '\r' || line[at] == '\t') {
					at++
				}
				reqs = append(reqs, request{offset: off + at, raw: raw, sum: sha256.Sum256(raw)})
			}
			off += int64(len(line))
		}
		if err == io.EOF {
			return reqs, unreadable, nil
		}
		if err != nil {
			return reqs, unreadable, err
		}
	}
}

// dupCounts are the exact duplicate requests (byte for byte the same as
// one accepted before), by the fault that caused each: the last fault
// before the copy, in its file.
type dupCounts struct {
	Total int
	Kill  int // after an agent SIGKILL: allowed, at most one per kill
	Term  int // after a graceful stop: not allowed
	// GatewayInFlight: after a gateway SIGKILL, of the last request the
	// gateway wrote before it died: it died before answering, so the agent
	// had to send it again. That is the gateway's doing, not the agent's.
	GatewayInFlight int
	Gateway         int // other copies after a gateway SIGKILL: not allowed
	None            int // before any fault: not allowed
}

// verdict is what the gateway received, judged against the CLI's own
// accounting of every session.
type verdict struct {
	Requests   map[string]int // accepted requests by signal, copies included
	Unreadable int            // JSON values in the gateway's files that could not be read
	Dups       dupCounts
	DupsBySig  map[string]int // identical copies by signal

	// After dropping the exact duplicates, summed over sessions and models:
	// usage records (API calls) missing and counted twice, and the same for
	// tokens (all types), nano-AIU and premium requests.
	LostRecords, DupRecords   int64
	LostTokens, ExtraTokens   int64
	LostNanoAIU, ExtraNanoAIU int64
	LostPremium, ExtraPremium float64
	SessionsOff               int      // sessions whose totals differ in any way
	Details                   []string // the first sessions that differ
	UnknownSessions           int      // in the output, not in the corpus
	NoSessionID               int      // data points without session.id

	// pointLines: by session, the lines of the metrics file in which each
	// copilot.api.requests data point (by attributes and times) arrived.
	pointLines map[string]map[string][]pointSeen
	// RepeatedByCause: usage records (API calls) in a data point that
	// arrived again in a different request, by the fault before the copy.
	RepeatedByCause byCause

	DupSpans                         int // span occurrences beyond the first of their id
	Spans                            int // distinct span ids
	ExtraSummaries, MissingSummaries int // copilot.session.summary records of shutdowns (not idle legs) against shutdowns
	Summaries                        int
}

const maxDetails = 8

// judge reads the gateway's files in dir and compares them with want.
func judge(dir string, want map[string]cliaccounting.Accounting, faults []fault) (*verdict, error) {
	v := &verdict{Requests: map[string]int{}, DupsBySig: map[string]int{}}
	unique := map[string][]request{}
	for _, sig := range signals {
		reqs, bad, err := readRequests(filepath.Join(dir, sig+".jsonl"))
		if err != nil {
			return nil, err
		}
		v.Unreadable += bad
		v.Requests[sig] = len(reqs)
		first := map[[32]byte]int{}
		for i, r := range reqs {
			j, seen := first[r.sum]
			if !seen {
				first[r.sum] = i
				r.line = i + 1
				unique[sig] = append(unique[sig], r)
				continue
			}
			v.Dups.Total++
			v.DupsBySig[sig]++
			v.Dups.attribute(sig, reqs, j, i, faults)
		}
	}
	got := map[string]map[string]cliaccounting.ModelTotals{}
	lineOffsets := map[int]int64{}
	for _, r := range unique["metrics"] {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(r.raw)
		if err != nil {
			return nil, fmt.Errorf("gateway metrics: %w", err)
		}
		v.addMetrics(md, r.line, got)
		lineOffsets[r.line] = r.offset
	}
	for _, points := range v.pointLines {
		for _, ps := range points {
			for _, p := range ps[1:] {
				v.RepeatedByCause.add(faults, faultBefore("metrics", lineOffsets[p.line], faults), p.calls)
			}
		}
	}
	spans := map[string]int{}
	for _, r := range unique["traces"] {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(r.raw)
		if err != nil {
			return nil, fmt.Errorf("gateway traces: %w", err)
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					spans[s.TraceID().String()+"/"+s.SpanID().String()]++
				}
			}
		}
	}
	v.Spans = len(spans)
	for _, n := range spans {
		v.DupSpans += n - 1
	}
	summaries := map[string]int{}
	for _, r := range unique["logs"] {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(r.raw)
		if err != nil {
			return nil, fmt.Errorf("gateway logs: %w", err)
		}
		for _, rl := range ld.ResourceLogs().All() {
			sid, _ := rl.Resource().Attributes().Get("session.id")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if typ, _ := lr.Attributes().Get("copilot.shutdown.type"); lr.EventName() == "copilot.session.summary" && typ.Str() != "idle" {
						summaries[sid.Str()]++
						v.Summaries++
					}
				}
			}
		}
	}
	v.compare(want, got, summaries)
	return v, nil
}

// faultBefore returns the index of the last fault after which the gateway
// wrote offset of the signal's file, or -1.
func faultBefore(sig string, offset int64, faults []fault) int {
	at := -1
	for k, f := range faults {
		if off, ok := f.Offsets[sig]; ok && off <= offset {
			at = k
		}
	}
	return at
}

// byCause is a count by the kind of the fault before.
type byCause struct{ Kill, Term, Gateway, None int64 }

func (b *byCause) add(faults []fault, at int, n int64) {
	switch {
	case at < 0:
		b.None += n
	case faults[at].Kind == faultKill || faults[at].Timeout || faults[at].Signaled:
		b.Kill += n
	case faults[at].Kind == faultTerm:
		b.Term += n
	default:
		b.Gateway += n
	}
}

// attribute counts the copy reqs[i] of reqs[j] against the last fault
// before it.
func (d *dupCounts) attribute(sig string, reqs []request, j, i int, faults []fault) {
	at := faultBefore(sig, reqs[i].offset, faults)
	if at < 0 {
		d.None++
		return
	}
	f := faults[at]
	switch {
	case f.Kind == faultKill || f.Timeout || f.Signaled:
		d.Kill++
	case f.Kind == faultTerm:
		d.Term++
	case f.Kind == faultGatewayKill:
		// The first copy is the last request before the gateway died.
		if boundary := f.Offsets[sig]; reqs[j].offset < boundary && reqs[j+1].offset >= boundary {
			d.GatewayInFlight++
		} else {
			d.Gateway++
		}
	}
}

var tokenTypes = map[string]func(*cliaccounting.ModelTotals) *int64{
	"input":       func(t *cliaccounting.ModelTotals) *int64 { return &t.InputTokens },
	"output":      func(t *cliaccounting.ModelTotals) *int64 { return &t.OutputTokens },
	"cache_read":  func(t *cliaccounting.ModelTotals) *int64 { return &t.CacheReadTokens },
	"cache_write": func(t *cliaccounting.ModelTotals) *int64 { return &t.CacheWriteTokens },
	"reasoning":   func(t *cliaccounting.ModelTotals) *int64 { return &t.ReasoningTokens },
}

// addMetrics adds the usage metrics of md, the request at line of the
// metrics file, to got, by session and model.
func (v *verdict) addMetrics(md pmetric.Metrics, line int, got map[string]map[string]cliaccounting.ModelTotals) {
	for _, rm := range md.ResourceMetrics().All() {
		attr, ok := rm.Resource().Attributes().Get("session.id")
		sid := attr.Str()
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				switch m.Name() {
				case "copilot.api.requests", "copilot.usage.tokens", "copilot.usage.nano_aiu", "copilot.usage.premium_requests":
				default:
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					if !ok {
						v.NoSessionID++
						continue
					}
					model, _ := dp.Attributes().Get("gen_ai.request.model")
					if got[sid] == nil {
						got[sid] = map[string]cliaccounting.ModelTotals{}
					}
					t := got[sid][model.Str()]
					switch m.Name() {
					case "copilot.api.requests":
						t.Requests += dp.IntValue()
					case "copilot.usage.nano_aiu":
						t.NanoAIU += dp.IntValue()
					case "copilot.usage.premium_requests":
						t.PremiumCost += dp.DoubleValue()
					case "copilot.usage.tokens":
						tt, _ := dp.Attributes().Get("gen_ai.token.type")
						if f := tokenTypes[tt.Str()]; f != nil {
							*f(&t) += dp.IntValue()
						}
					}
					got[sid][model.Str()] = t
					if m.Name() == "copilot.api.requests" {
						v.notePoint(sid, dp, line)
					}
				}
			}
		}
	}
}

// pointSeen is a copilot.api.requests data point in one request.
type pointSeen struct {
	line  int
	calls int64
}

func (v *verdict) notePoint(sid string, dp pmetric.NumberDataPoint, line int) {
	if v.pointLines == nil {
		v.pointLines = map[string]map[string][]pointSeen{}
	}
	if v.pointLines[sid] == nil {
		v.pointLines[sid] = map[string][]pointSeen{}
	}
	k := fmt.Sprint(dp.Attributes().AsRaw(), dp.StartTimestamp(), dp.Timestamp())
	v.pointLines[sid][k] = append(v.pointLines[sid][k], pointSeen{line, dp.IntValue()})
}

// repeatedPoints says in which lines the session's data points that
// arrived more than once are.
func (v *verdict) repeatedPoints(sid string) string {
	var out []string
	for _, ps := range v.pointLines[sid] {
		if len(ps) > 1 {
			lines := make([]int, len(ps))
			for i, p := range ps {
				lines[i] = p.line
			}
			out = append(out, fmt.Sprint(lines))
		}
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], "...")
	}
	if len(out) == 0 {
		return ""
	}
	return "; data points in more than one request, by line of metrics.jsonl: " + strings.Join(out, " ")
}

// compare sets the loss and excess counts from the totals by session.
func (v *verdict) compare(want map[string]cliaccounting.Accounting, got map[string]map[string]cliaccounting.ModelTotals, summaries map[string]int) {
	for sid := range got {
		if _, ok := want[sid]; !ok {
			v.UnknownSessions++
		}
	}
	for sid := range summaries {
		if _, ok := want[sid]; !ok {
			v.UnknownSessions++
		}
	}
	ids := make([]string, 0, len(want))
	for sid := range want {
		ids = append(ids, sid)
	}
	sort.Strings(ids)
	for _, sid := range ids {
		w, g := want[sid], got[sid]
		off := false
		models := map[string]bool{}
		for m := range w.Models {
			models[m] = true
		}
		for m := range g {
			models[m] = true
		}
		for model := range models {
			wm, gm := w.Models[model], g[model]
			diff := func(want, got int64, lost, extra *int64) {
				if got < want {
					*lost += want - got
					off = true
				} else if got > want {
					*extra += got - want
					off = true
				}
			}
			diff(wm.Requests, gm.Requests, &v.LostRecords, &v.DupRecords)
			for _, f := range tokenTypes {
				diff(*f(&wm), *f(&gm), &v.LostTokens, &v.ExtraTokens)
			}
			diff(wm.NanoAIU, gm.NanoAIU, &v.LostNanoAIU, &v.ExtraNanoAIU)
			if d := gm.PremiumCost - wm.PremiumCost; d < -1e-6 {
				v.LostPremium -= d
				off = true
			} else if d > 1e-6 {
				v.ExtraPremium += d
				off = true
			}
			if !closeTotals(gm, wm) && len(v.Details) < maxDetails {
				v.Details = append(v.Details, fmt.Sprintf("session %s model %s: want %d calls, %d in / %d out tokens, %d nano-AIU, %.2f premium; got %d, %d / %d, %d, %.2f%s",
					sid, model, wm.Requests, wm.InputTokens, wm.OutputTokens, wm.NanoAIU, wm.PremiumCost,
					gm.Requests, gm.InputTokens, gm.OutputTokens, gm.NanoAIU, gm.PremiumCost, v.repeatedPoints(sid)))
			}
		}
		if off {
			v.SessionsOff++
		}
		if n := summaries[sid]; n > w.Shutdowns {
			v.ExtraSummaries += n - w.Shutdowns
		} else {
			v.MissingSummaries += w.Shutdowns - n
		}
	}
}

// closeTotals compares totals, premium requests within rounding.
func closeTotals(a, b cliaccounting.ModelTotals) bool {
	pa, pb := a.PremiumCost, b.PremiumCost
	a.PremiumCost, b.PremiumCost = 0, 0
	return a == b && closeEnough(pa, pb)
}

// exactFailures lists why v fails the exact criteria: nothing lost,
// nothing counted twice once the exact duplicate requests are dropped,
// and exact duplicate requests only where a kill -9 of the agent (at most
// one per kill) or the gateway's death before answering explains them.
func (v *verdict) exactFailures(kills int) []string {
	var out []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(v.LostRecords > 0 || v.LostTokens > 0 || v.LostNanoAIU > 0 || v.LostPremium > 1e-6,
		"lost: %d usage records, %d tokens, %d nano-AIU, %.2f premium requests", v.LostRecords, v.LostTokens, v.LostNanoAIU, v.LostPremium)
	rc := v.RepeatedByCause
	add(v.DupRecords > 0 || v.ExtraTokens > 0 || v.ExtraNanoAIU > 0 || v.ExtraPremium > 1e-6,
		"counted twice (beyond identical requests): %d usage records, %d tokens, %d nano-AIU, %.2f premium requests (records re-sent in a different request: %d after kills, %d after graceful stops, %d after gateway kills, %d with no fault before)",
		v.DupRecords, v.ExtraTokens, v.ExtraNanoAIU, v.ExtraPremium, rc.Kill, rc.Term, rc.Gateway, rc.None)
	add(v.DupSpans > 0, "%d span ids sent more than once in different requests", v.DupSpans)
	add(v.ExtraSummaries > 0, "%d session summaries beyond one per shutdown", v.ExtraSummaries)
	add(v.MissingSummaries > 0, "%d session summaries missing", v.MissingSummaries)
	add(v.UnknownSessions > 0, "%d sessions in the output that the corpus does not have", v.UnknownSessions)
	add(v.NoSessionID > 0, "%d usage data points without session.id", v.NoSessionID)
	add(v.Dups.Kill > kills, "%d identical requests re-sent after %d kills (at most one per kill)", v.Dups.Kill, kills)
	add(v.Dups.Term > 0, "%d identical requests re-sent after graceful stops", v.Dups.Term)
	add(v.Dups.Gateway > 0, "%d identical requests re-sent after gateway outages (beyond the one the gateway died on)", v.Dups.Gateway)
	add(v.Dups.None > 0, "%d identical requests sent twice with no fault before", v.Dups.None)
	return out
}

// judgeLedger compares the usage ledger the gateway kept in dir (rows read
// once by id, as the report reads them) with the accounting.
func judgeLedger(dir string, want map[string]cliaccounting.Accounting) (*verdict, int, error) {
	rows, err := ledger.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("usage ledger: %w", err)
	}
	got := map[string]map[string]cliaccounting.ModelTotals{}
	for _, r := range rows {
		if got[r.SessionID] == nil {
			got[r.SessionID] = map[string]cliaccounting.ModelTotals{}
		}
		premium, _ := strconv.ParseFloat(r.PremiumRequests, 64)
		t := got[r.SessionID][r.Model]
		t.Add(cliaccounting.ModelTotals{
			Requests: r.Requests, PremiumCost: premium, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
			CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens,
			NanoAIU: r.NanoAIU,
		})
		got[r.SessionID][r.Model] = t
	}
	v := &verdict{Requests: map[string]int{}, DupsBySig: map[string]int{}}
	v.compare(want, got, nil)
	return v, len(rows), nil
}
