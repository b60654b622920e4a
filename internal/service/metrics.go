package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// DefaultMetricsURL is where the collector's embedded default
// configuration serves its own metrics.
const DefaultMetricsURL = "http://127.0.0.1:4322/metrics"

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseMetrics reads the Prometheus text exposition format: comments and
// blank lines are skipped, each other line is a name, optional labels in
// braces, a value and an optional timestamp. Lines it cannot read are an
// error naming the line.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return out, fmt.Errorf("metrics line %d %q: %w", n, truncate(line, 80), err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func parseSample(line string) (Sample, error) {
	s := Sample{}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, errors.New("no value")
	}
	s.Name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return s, err
		}
		s.Labels, rest = labels, after
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, errors.New("want a value and an optional timestamp after the name and labels")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

func parseValue(f string) (float64, error) {
	switch f {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(f, 64)
}

// parseLabels reads name="value" pairs up to the closing brace; s starts
// after the opening one.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return nil, "", errors.New("labels without a closing brace")
		}
		if s[0] == '}' {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, "", errors.New("a label without =")
		}
		name := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		if s == "" || s[0] != '"' {
			return nil, "", fmt.Errorf("label %s: the value is not quoted", name)
		}
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("label %s: the value has no closing quote", name)
		}
		labels[name] = b.String()
		s = s[i+1:]
	}
}

// Queue is one exporter's sending queue, summed over its signals.
type Queue struct {
	Exporter string
	// Size is what waits in the queue: batches with the exporter
	// helper's default sizer.
	Size float64
	// Capacity is the queue's bound, per signal.
	Capacity float64
	// BySignal is the size per data_type (logs, metrics, traces).
	BySignal map[string]float64
	// Sent and Failed are the items (log records, metric points, spans)
	// the exporter sent and failed to send since the collector started.
	Sent, Failed float64
	// Dropped are the items refused because the queue was full.
	Dropped float64
}

// Gateway tells whether the exporter sends to a gateway: an OTLP/HTTP
// exporter (otlphttp, otlp_http, with any name).
func (q Queue) Gateway() bool {
	t, _, _ := strings.Cut(q.Exporter, "/")
	return t == "otlphttp" || t == "otlp_http"
}

// Telemetry is what status takes from the collector's own metrics.
type Telemetry struct {
	// Queues are the exporters that have a sending queue, by name.
	Queues []Queue
	// The copilot receiver's: transcript files followed, events and bytes
	// read, hook payloads accepted (nil when not exported).
	FilesTracked, EventsRead, BytesRead, HooksAccepted *float64
	// Uptime is the collector's process uptime in seconds (nil: unknown).
	Uptime *float64
}

// Summarize picks the sending queues and the receiver's progress out of
// the collector's metrics. Counter names are taken with or without the
// _total suffix.
func Summarize(samples []Sample) Telemetry {
	var t Telemetry
	queues := map[string]*Queue{}
	queue := func(name string) *Queue {
		q := queues[name]
		if q == nil {
			q = &Queue{Exporter: name, BySignal: map[string]float64{}}
			queues[name] = q
		}
		return q
	}
	add := func(p **float64, v float64) {
		if *p == nil {
			*p = new(float64)
		}
		**p += v
	}
	for _, s := range samples {
		name := strings.TrimSuffix(s.Name, "_total")
		exp := s.Labels["exporter"]
		switch name {
		case "otelcol_exporter_queue_size":
			q := queue(exp)
			q.Size += s.Value
			q.BySignal[s.Labels["data_type"]] += s.Value
		case "otelcol_exporter_queue_capacity":
			q := queue(exp)
			q.Capacity = max(q.Capacity, s.Value)
		case "otelcol_exporter_sent_log_records", "otelcol_exporter_sent_metric_points", "otelcol_exporter_sent_spans":
			queue(exp).Sent += s.Value
		case "otelcol_exporter_send_failed_log_records", "otelcol_exporter_send_failed_metric_points", "otelcol_exporter_send_failed_spans":
			queue(exp).Failed += s.Value
		case "otelcol_exporter_enqueue_failed_log_records", "otelcol_exporter_enqueue_failed_metric_points", "otelcol_exporter_enqueue_failed_spans":
			queue(exp).Dropped += s.Value
		case "otelcol_receiver_copilot_files_tracked":
			add(&t.FilesTracked, s.Value)
		case "otelcol_receiver_copilot_events_read":
			add(&t.EventsRead, s.Value)
		case "otelcol_receiver_copilot_bytes_read":
			add(&t.BytesRead, s.Value)
		case "otelcol_receiver_copilot_hooks_accepted":
			add(&t.HooksAccepted, s.Value)
		case "otelcol_process_uptime":
			add(&t.Uptime, s.Value)
		}
	}
	for _, q := range queues {
		if len(q.BySignal) > 0 { // exporters without a queue have no size
			t.Queues = append(t.Queues, *q)
		}
	}
	sort.Slice(t.Queues, func(i, j int) bool { return t.Queues[i].Exporter < t.Queues[j].Exporter })
	return t
}

// Scrape reads the collector's own metrics from url.
func Scrape(ctx context.Context, client *http.Client, url string) (Telemetry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Telemetry{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return Telemetry{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Telemetry{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	samples, err := ParseMetrics(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Telemetry{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return Summarize(samples), nil
}
