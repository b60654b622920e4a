package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// The collector's own metrics as otelcol-copilot (collector v0.159.0)
// serves them, with an otlphttp/gateway exporter holding one batch of
// logs it could not send and the copilot receiver: captured from the
// binary, not written by hand.
const realMetrics = "testdata/metrics-v0.159.0.txt"

func TestParseRealMetrics(t *testing.T) {
	f, err := os.Open(realMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := ParseMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	tel := Summarize(samples)
	if len(tel.Queues) != 1 {
		t.Fatalf("queues %+v, want the one of otlphttp/gateway", tel.Queues)
	}
	q := tel.Queues[0]
	if q.Exporter != "otlphttp/gateway" || !q.Gateway() || q.Size != 1 || q.Capacity != 1000 ||
		q.BySignal["logs"] != 1 || q.BySignal["metrics"] != 0 {
		t.Errorf("queue %+v", q)
	}
	if tel.FilesTracked == nil || *tel.FilesTracked != 0 || tel.Uptime == nil || *tel.Uptime <= 0 {
		t.Errorf("receiver and uptime: %v %v", tel.FilesTracked, tel.Uptime)
	}
}

func TestParseMetricsFormat(t *testing.T) {
	text := `# HELP x a "help" line
# TYPE otelcol_exporter_sent_log_records_total counter
otelcol_exporter_sent_log_records_total{exporter="otlp_http/gw",data_type="logs"} 1.5e+03 1700000000000
otelcol_exporter_send_failed_spans{exporter="otlp_http/gw"} 7
otelcol_exporter_enqueue_failed_metric_points{exporter="otlp_http/gw"} 3
otelcol_exporter_queue_size{ data_type = "traces" , exporter="otlp_http/gw",} 4
otelcol_exporter_queue_size{data_type="logs",exporter="debug"} 0
odd{l="a \"quoted\" \\ value\nwith a newline",m="}"} +Inf
otelcol_receiver_copilot_events_read_total 10
otelcol_receiver_copilot_events_read_total{other="x"} 5
`
	samples, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 8 {
		t.Fatalf("%d samples: %+v", len(samples), samples)
	}
	odd := samples[5]
	if odd.Labels["l"] != "a \"quoted\" \\ value\nwith a newline" || odd.Labels["m"] != "}" || !math.IsInf(odd.Value, 1) {
		t.Errorf("escaped labels: %+v", odd)
	}
	tel := Summarize(samples)
	if len(tel.Queues) != 2 {
		t.Fatalf("queues %+v", tel.Queues)
	}
	gw := tel.Queues[1]
	if gw.Exporter != "otlp_http/gw" || !gw.Gateway() || gw.Size != 4 || gw.Sent != 1500 || gw.Failed != 7 || gw.Dropped != 3 {
		t.Errorf("gateway queue %+v", gw)
	}
	if tel.Queues[0].Gateway() {
		t.Errorf("debug is not a gateway")
	}
	if tel.EventsRead == nil || *tel.EventsRead != 15 {
		t.Errorf("events read %v", tel.EventsRead)
	}

	for _, bad := range []string{
		"name_only\n",
		"m{l=\"v\" 1\n",
		"m{l=v} 1\n",
		"m{l=\"v} 1\n",
		"m 1 2 3\n",
		"m one\n",
	} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// metricsServer stands in for the collector's own metrics endpoint, on
// loopback, for the test's life.
func metricsServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// closedURL is a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/metrics"
}

func TestStatusInstalledAndBehind(t *testing.T) {
	o := testOptions(t, "linux")
	ctx := context.Background()
	if _, err := Install(ctx, o, &fakeRunner{}, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	real, err := os.ReadFile(realMetrics)
	if err != nil {
		t.Fatal(err)
	}
	url := metricsServer(t, string(real))
	r := &fakeRunner{answers: map[string]fakeAnswer{"systemctl --user show": {out: "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nNRestarts=2\nUnitFileState=enabled\n"}}}
	st, err := GetStatus(ctx, o, r, http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Installed || !st.State.Active || st.State.PID != 4242 || !st.Running() {
		t.Fatalf("status %+v", st)
	}
	var out bytes.Buffer
	st.Format(&out)
	for _, want := range []string{
		"active (running), enabled, restarted 2 times, pid 4242",
		"sends to  https://gateway.example:4318 (token from " + o.GatewayTokenFile + ")",
		"otlphttp/gateway: 1 batch waiting in the sending queue (logs 1, metrics 0, bound 1000 per signal); since start 0 items sent, 0 failed",
		"receiver  0 transcripts followed",
		"logs      journalctl --user -u otelcol-copilot",
		"a collector answers at " + url + ", up 0h00m04s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStatusNothingRuns(t *testing.T) {
	o := testOptions(t, "darwin")
	st, err := GetStatus(context.Background(), o, &fakeRunner{}, http.DefaultClient, closedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Installed || st.Running() || st.MetricsErr == nil {
		t.Fatalf("status %+v", st)
	}
	var out bytes.Buffer
	st.Format(&out)
	for _, want := range []string{"not installed (no launchd agent ", "otelcol-copilot-hook service install", "no collector answers at http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStatusLaunchdLocalOnlyNoQueue(t *testing.T) {
	o := testOptions(t, "darwin")
	o.Gateway, o.GatewayTokenFile = "", ""
	ctx := context.Background()
	notLoaded := &fakeRunner{answers: map[string]fakeAnswer{"launchctl print": {err: errors.New("not found")}}}
	if _, err := Install(ctx, o, notLoaded, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	url := metricsServer(t, "otelcol_receiver_copilot_files_tracked 3\notelcol_receiver_copilot_bytes_read 3145728\n")
	r := &fakeRunner{answers: map[string]fakeAnswer{"launchctl print": {out: "gui/501/" + Label + " = {\n\tstate = running\n\tpid = 777\n\tlast exit code = 1\n}\n"}}}
	st, err := GetStatus(ctx, o, r, http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st.Format(&out)
	for _, want := range []string{"running, last exit code 1, pid 777", "local only", "3 transcripts followed, 3.0 MiB of transcripts read"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "behind") {
		t.Errorf("a local-only collector has no queue to be behind in:\n%s", out.String())
	}
}

func TestStatusUserManagerUnreachable(t *testing.T) {
	o := testOptions(t, "linux")
	ctx := context.Background()
	if _, err := Install(ctx, o, &fakeRunner{}, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{answers: map[string]fakeAnswer{"systemctl --user show": {err: errors.New("Failed to connect to bus: No medium found")}}}
	st, err := GetStatus(ctx, o, r, http.DefaultClient, closedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Running() {
		t.Error("nothing runs, yet Running")
	}
	var out bytes.Buffer
	st.Format(&out)
	for _, want := range []string{"but its state is unknown", "No medium found", "loginctl enable-linger", "collector " + o.Collector} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusWithoutManager: where there is no service manager support
// (Windows), status reports the collector alone.
func TestStatusWithoutManager(t *testing.T) {
	var out bytes.Buffer
	Status{MetricsURL: "http://127.0.0.1:4322/metrics", Telemetry: Telemetry{Queues: []Queue{{Exporter: "otlphttp", Size: 2, BySignal: map[string]float64{"logs": 2}}}}}.Format(&out)
	if strings.Contains(out.String(), "service") || strings.Contains(out.String(), "sends to") || !strings.Contains(out.String(), "otlphttp: 2 batches waiting") {
		t.Errorf("status:\n%s", out.String())
	}
}
