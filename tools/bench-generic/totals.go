package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the OTLP exporters compress with gzip by default
)

// Totals is an export's usage by model: what both routes must agree on
// with the transcripts' own accounting.
type Totals map[string]Usage

// Usage is one model's usage. Input tokens include the cached ones, as the
// CLI counts them.
type Usage struct {
	Requests         int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	NanoAIU          int64
}

func (u *Usage) add(o Usage) {
	u.Requests += o.Requests
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadTokens += o.CacheReadTokens
	u.CacheWriteTokens += o.CacheWriteTokens
	u.NanoAIU += o.NanoAIU
}

// exceeds says whether any field of u is above the same field of o.
func (u Usage) exceeds(o Usage) bool {
	return u.Requests > o.Requests || u.InputTokens > o.InputTokens || u.OutputTokens > o.OutputTokens ||
		u.CacheReadTokens > o.CacheReadTokens || u.CacheWriteTokens > o.CacheWriteTokens || u.NanoAIU > o.NanoAIU
}

func (t Totals) clone() Totals {
	c := make(Totals, len(t))
	for m, u := range t {
		c[m] = u
	}
	return c
}

// Equal says whether t and o are the same usage; a model with no usage
// at all counts as absent.
func (t Totals) Equal(o Totals) bool {
	for _, m := range unionModels(t, o) {
		if t[m] != o[m] {
			return false
		}
	}
	return true
}

// Over says whether t has more of anything than want: an export that can
// only grow is then never going to equal it.
func (t Totals) Over(want Totals) bool {
	for m, u := range t {
		if u.exceeds(want[m]) {
			return true
		}
	}
	return false
}

// Diff describes how got differs from want, one line per model and field.
func Diff(got, want Totals) string {
	var b strings.Builder
	for _, m := range unionModels(got, want) {
		g, w := got[m], want[m]
		for _, f := range []struct {
			name string
			g, w int64
		}{
			{"requests", g.Requests, w.Requests},
			{"input tokens", g.InputTokens, w.InputTokens},
			{"output tokens", g.OutputTokens, w.OutputTokens},
			{"cache read tokens", g.CacheReadTokens, w.CacheReadTokens},
			{"cache write tokens", g.CacheWriteTokens, w.CacheWriteTokens},
			{"nano-AIU", g.NanoAIU, w.NanoAIU},
		} {
			if f.g != f.w {
				fmt.Fprintf(&b, "  %s %s: exported %d, transcripts %d (%+d)\n", m, f.name, f.g, f.w, f.g-f.w)
			}
		}
	}
	return b.String()
}

func unionModels(a, b Totals) []string {
	var ms []string
	for m, u := range a {
		if u != (Usage{}) {
			ms = append(ms, m)
		}
	}
	for m, u := range b {
		if _, ok := a[m]; !ok && u != (Usage{}) {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

// tokenMetrics are the token metrics of the generic route, one per type.
var tokenMetrics = map[string]func(*Usage) *int64{
	"copilot.usage.input_tokens":       func(u *Usage) *int64 { return &u.InputTokens },
	"copilot.usage.output_tokens":      func(u *Usage) *int64 { return &u.OutputTokens },
	"copilot.usage.cache_read_tokens":  func(u *Usage) *int64 { return &u.CacheReadTokens },
	"copilot.usage.cache_write_tokens": func(u *Usage) *int64 { return &u.CacheWriteTokens },
}

// tokenTypes are the gen_ai.token.type values of the copilot receiver's
// copilot.usage.tokens.
var tokenTypes = map[string]func(*Usage) *int64{
	"input":       func(u *Usage) *int64 { return &u.InputTokens },
	"output":      func(u *Usage) *int64 { return &u.OutputTokens },
	"cache_read":  func(u *Usage) *int64 { return &u.CacheReadTokens },
	"cache_write": func(u *Usage) *int64 { return &u.CacheWriteTokens },
}

// AddMetrics adds the usage in md to t: the delta sums of either route
// (the copilot receiver's copilot.usage.tokens by gen_ai.token.type, or
// the generic route's metric per token type), by gen_ai.request.model.
// Other metrics are ignored. A cumulative or floating-point usage sum is an
// error: adding those up would not be the usage.
func (t Totals) AddMetrics(md pmetric.Metrics) error {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				name := m.Name()
				field := func(u *Usage, dp pmetric.NumberDataPoint) *int64 { return nil }
				switch {
				case name == "copilot.api.requests":
					field = func(u *Usage, _ pmetric.NumberDataPoint) *int64 { return &u.Requests }
				case name == "copilot.usage.nano_aiu":
					field = func(u *Usage, _ pmetric.NumberDataPoint) *int64 { return &u.NanoAIU }
				case name == "copilot.usage.tokens":
					field = func(u *Usage, dp pmetric.NumberDataPoint) *int64 {
						tt, _ := dp.Attributes().Get("gen_ai.token.type")
						if f := tokenTypes[tt.Str()]; f != nil {
							return f(u)
						}
						return nil // reasoning: not compared
					}
				case tokenMetrics[name] != nil:
					f := tokenMetrics[name]
					field = func(u *Usage, _ pmetric.NumberDataPoint) *int64 { return f(u) }
				default:
					continue
				}
				if m.Type() != pmetric.MetricTypeSum {
					return fmt.Errorf("%s is a %s, not a sum", name, m.Type())
				}
				if m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
					return fmt.Errorf("%s has %s temporality; the bench adds up deltas", name, m.Sum().AggregationTemporality())
				}
				for _, dp := range m.Sum().DataPoints().All() {
					if dp.ValueType() != pmetric.NumberDataPointValueTypeInt {
						return fmt.Errorf("%s has a %s data point; usage is counted in integers", name, dp.ValueType())
					}
					model, ok := dp.Attributes().Get("gen_ai.request.model")
					if !ok {
						return fmt.Errorf("%s has a data point without gen_ai.request.model", name)
					}
					u := t[model.Str()]
					if p := field(&u, dp); p != nil {
						*p += dp.IntValue()
						t[model.Str()] = u
					}
				}
			}
		}
	}
	return nil
}

// collector gathers a running export's totals.
type collector interface {
	// Totals is what was exported so far.
	Totals() (Totals, error)
}

// fileTail reads a file exporter's output (format json: one
// ExportMetricsServiceRequest a line) as it grows.
type fileTail struct {
	path    string
	f       *os.File
	partial []byte
	totals  Totals
	lines   int
}

func newFileTail(path string) *fileTail { return &fileTail{path: path, totals: Totals{}} }

func (ft *fileTail) Totals() (Totals, error) {
	if ft.f == nil {
		f, err := os.Open(ft.path)
		if os.IsNotExist(err) {
			return ft.totals.clone(), nil
		}
		if err != nil {
			return nil, err
		}
		ft.f = f
	}
	b, err := io.ReadAll(ft.f)
	if err != nil {
		return nil, err
	}
	ft.partial = append(ft.partial, b...)
	for {
		i := bytes.IndexByte(ft.partial, '\n')
		if i < 0 {
			break
		}
		ft.lines++
		if err := addJSONLine(ft.totals, ft.partial[:i]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ft.path, ft.lines, err)
		}
		ft.partial = ft.partial[i+1:]
	}
	ft.partial = slices.Clone(ft.partial) // let the consumed bytes go
	return ft.totals.clone(), nil
}

func (ft *fileTail) Close() {
	if ft.f != nil {
		ft.f.Close()
	}
}

// addJSONLine adds one line of a file exporter's JSON output to t.
func addJSONLine(t Totals, line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
	if err != nil {
		return err
	}
	return t.AddMetrics(md)
}

// ReadFileTotals reads a whole file exporter output.
func ReadFileTotals(r io.Reader) (Totals, error) {
	t := Totals{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<30)
	for n := 1; sc.Scan(); n++ {
		if err := addJSONLine(t, sc.Bytes()); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return t, sc.Err()
}

// sink is an OTLP/gRPC metrics server on loopback that keeps the totals of
// what it is sent. It runs in this process: its CPU is not the collector's.
type sink struct {
	pmetricotlp.UnimplementedGRPCServer
	srv  *grpc.Server
	addr string

	mu     sync.Mutex
	totals Totals
	err    error
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{srv: grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20)), addr: l.Addr().String(), totals: Totals{}}
	pmetricotlp.RegisterGRPCServer(s.srv, s)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.totals.AddMetrics(req.Metrics()); err != nil && s.err == nil {
		s.err = err
	}
	return pmetricotlp.NewExportResponse(), nil
}

// reset starts a new run's totals.
func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totals, s.err = Totals{}, nil
}

func (s *sink) Totals() (Totals, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals.clone(), s.err
}

func (s *sink) stop() { s.srv.Stop() }
