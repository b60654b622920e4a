package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// State is what the service manager says of the service.
type State struct {
	Manager string
	Path    string
	// Loaded: the manager knows the service; Active: it runs.
	Loaded, Active bool
	PID            int
	// Detail is the manager's own words: "active (running), enabled".
	Detail string
	// Logs is where to read the collector's output.
	Logs string
	// Err: the manager could not be asked.
	Err error
}

// Status is what the status command reports.
type Status struct {
	// Installed: the service file exists.
	Installed bool
	File      Installed
	State     State
	// MetricsURL is where the collector's own metrics were read;
	// MetricsErr why they could not be.
	MetricsURL string
	MetricsErr error
	Telemetry  Telemetry
}

// Running tells whether a collector runs: the service is active, or
// something answers at the metrics URL.
func (s Status) Running() bool {
	return s.State.Active || s.MetricsErr == nil
}

// GetStatus asks the service manager about the service and the collector
// about its queues.
func GetStatus(ctx context.Context, o Options, r Runner, client *http.Client, metricsURL string) (Status, error) {
	m, err := o.manager()
	if err != nil {
		return Status{}, err
	}
	st := Status{MetricsURL: metricsURL}
	st.File, st.Installed, err = ReadInstalled(o)
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", st.File.Path, err)
	}
	if st.Installed {
		st.State = m.status(ctx, r)
	} else {
		st.State = State{Manager: m.kind(), Path: m.path()}
	}
	st.Telemetry, st.MetricsErr = Scrape(ctx, client, metricsURL)
	return st, nil
}

// Format writes the status for a person, one aspect a line.
func (s Status) Format(w io.Writer) {
	line := func(k, f string, a ...any) { fmt.Fprintf(w, "%-10s%s\n", k, fmt.Sprintf(f, a...)) }
	switch {
	case !s.Installed && s.State.Manager == "":
		// No service manager support here (Windows): the caller said so.
	case !s.Installed:
		line("service", "not installed (no %s %s): otelcol-copilot-hook service install", s.State.Manager, s.State.Path)
	case s.State.Err != nil:
		line("service", "%s %s, but its state is unknown: %v", s.State.Manager, s.State.Path, s.State.Err)
	default:
		d := s.State.Detail
		if s.State.PID > 0 {
			d += ", pid " + strconv.Itoa(s.State.PID)
		}
		line("service", "%s %s: %s", s.State.Manager, s.State.Path, d)
		if !s.File.Ours {
			line("", "(not written by otelcol-copilot-hook service install)")
		}
	}
	if s.Installed {
		line("collector", "%s", s.File.Collector)
		if s.State.Logs != "" {
			line("logs", "%s", s.State.Logs)
		}
		if s.File.Gateway != "" {
			tok := "no token"
			if s.File.GatewayTokenFile != "" {
				tok = "token from " + s.File.GatewayTokenFile
			}
			line("sends to", "%s (%s)", s.File.Gateway, tok)
		} else {
			line("sends to", "local only (no %s in the service)", EnvGateway)
		}
	}
	if s.MetricsErr != nil {
		why := s.MetricsErr.Error()
		var ue *url.Error
		if errors.As(s.MetricsErr, &ue) {
			why = ue.Err.Error()
		}
		if errors.Is(s.MetricsErr, context.DeadlineExceeded) {
			why = "no answer in time"
		}
		line("metrics", "no collector answers at %s (%s): it is not running, or its telemetry listens elsewhere (--metrics-url)", s.MetricsURL, why)
		return
	}
	t := s.Telemetry
	up := ""
	if t.Uptime != nil {
		up = ", up " + fmtSeconds(*t.Uptime)
	}
	line("metrics", "a collector answers at %s%s", s.MetricsURL, up)
	gateways := 0
	for _, q := range t.Queues {
		if q.Gateway() {
			gateways++
		}
		var by []string
		for _, sig := range []string{"logs", "metrics", "traces"} {
			if v, ok := q.BySignal[sig]; ok {
				by = append(by, fmt.Sprintf("%s %s", sig, fmtNum(v)))
			}
		}
		capacity := ""
		if q.Capacity > 0 {
			capacity = ", bound " + fmtNum(q.Capacity) + " per signal"
		}
		dropped := ""
		if q.Dropped > 0 {
			dropped = ", " + fmtNum(q.Dropped) + " dropped because the queue was full"
		}
		batches := "batches"
		if q.Size == 1 {
			batches = "batch"
		}
		line("behind", "%s: %s %s waiting in the sending queue (%s%s); since start %s items sent, %s failed%s",
			q.Exporter, fmtNum(q.Size), batches, strings.Join(by, ", "), capacity, fmtNum(q.Sent), fmtNum(q.Failed), dropped)
	}
	if gateways == 0 && s.File.Gateway != "" {
		line("behind", "no sending queue of an otlphttp exporter in the collector's metrics: does this collector's configuration send to %s?", EnvGateway)
	}
	var recv []string
	if t.FilesTracked != nil {
		recv = append(recv, fmtNum(*t.FilesTracked)+" transcripts followed")
	}
	if t.EventsRead != nil {
		recv = append(recv, fmtNum(*t.EventsRead)+" events read")
	}
	if t.BytesRead != nil {
		recv = append(recv, fmtBytes(*t.BytesRead)+" of transcripts read")
	}
	if t.HooksAccepted != nil {
		recv = append(recv, fmtNum(*t.HooksAccepted)+" hook payloads accepted")
	}
	if len(recv) > 0 {
		line("receiver", "%s", strings.Join(recv, ", "))
	}
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func fmtBytes(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%s bytes", fmtNum(v))
}

func fmtSeconds(v float64) string {
	s := int64(v)
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}
