// Package dashboards holds the dashboards and alert rules shipped for each
// backend; its tests hold every metric, attribute and label they name to the
// telemetry the collector documents (the receiver's metadata.yaml and
// histograms.yaml, the chargeback processor's metrics), with the type and
// temporality each query assumes.
package dashboards

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// metricDef is what a query may assume of a metric.
type metricDef struct {
	kind  string // sum, histogram or gauge
	delta bool   // a delta sum: a Datadog count, a Prometheus counter after delta_to_cumulative
	unit  string
	attrs map[string]bool // data point attributes, resource attributes and the chargeback attribution
}

// chargebackAttrs are the attribution the chargeback processor puts on every
// Copilot metric by default (metrics.attributes).
var chargebackAttrs = []string{"team", "project", "cost_center", "ticket"}

// catalog reads the documented metrics: the receiver's metadata.yaml (from
// which documentation.md is generated) and histograms.yaml, and the
// chargeback processor's copilot.cost and budget gauges (its README and
// metrics.go).
func catalog(t *testing.T) map[string]*metricDef {
	t.Helper()
	var md struct {
		ResourceAttributes map[string]any `yaml:"resource_attributes"`
		Metrics            map[string]struct {
			Unit string `yaml:"unit"`
			Sum  *struct {
				Monotonic   bool   `yaml:"monotonic"`
				Temporality string `yaml:"aggregation_temporality"`
			} `yaml:"sum"`
			Gauge      any      `yaml:"gauge"`
			Attributes []string `yaml:"attributes"`
		} `yaml:"metrics"`
	}
	readYAML(t, "../receiver/copilotreceiver/metadata.yaml", &md)
	var hs struct {
		Histograms map[string]struct {
			Unit       string   `yaml:"unit"`
			Attributes []string `yaml:"attributes"`
		} `yaml:"histograms"`
	}
	readYAML(t, "../receiver/copilotreceiver/histograms.yaml", &hs)
	doc, err := os.ReadFile("../receiver/copilotreceiver/documentation.md")
	require.NoError(t, err)

	common := map[string]bool{}
	for a := range md.ResourceAttributes {
		common[a] = true
	}
	for _, a := range chargebackAttrs {
		common[a] = true
	}
	withAttrs := func(attrs ...string) map[string]bool {
		m := map[string]bool{}
		for a := range common {
			m[a] = true
		}
		for _, a := range attrs {
			m[a] = true
		}
		return m
	}
	cat := map[string]*metricDef{}
	for name, m := range md.Metrics {
		require.NotNil(t, m.Sum, "%s: the receiver's metrics are sums", name)
		require.Contains(t, string(doc), "### "+name+"\n", "documentation.md is generated from metadata.yaml")
		cat[name] = &metricDef{kind: "sum", delta: m.Sum.Monotonic && m.Sum.Temporality == "delta", unit: m.Unit, attrs: withAttrs(m.Attributes...)}
	}
	for name, h := range hs.Histograms {
		cat[name] = &metricDef{kind: "histogram", delta: true, unit: h.Unit, attrs: withAttrs(h.Attributes...)}
	}

	// The processor's metrics are named in its metrics.go and described in
	// its README; both must still say so.
	src, err := os.ReadFile("../processor/chargebackprocessor/metrics.go")
	require.NoError(t, err)
	readme, err := os.ReadFile("../processor/chargebackprocessor/README.md")
	require.NoError(t, err)
	for _, name := range []string{"copilot.cost", "copilot.budget.utilization", "copilot.budget.spend", "copilot.cost.method", "copilot.budget.name", "copilot.budget.scope", "copilot.budget.value"} {
		require.Contains(t, string(src), `"`+name+`"`)
	}
	for _, name := range []string{"copilot.cost", "copilot.budget.utilization", "copilot.budget.spend"} {
		require.Contains(t, string(readme), "`"+name+"`")
	}
	usage := cat["copilot.usage.nano_aiu"]
	require.NotNil(t, usage)
	cost := &metricDef{kind: "sum", delta: true, unit: "USD", attrs: map[string]bool{"copilot.cost.method": true}}
	for a := range usage.attrs {
		cost.attrs[a] = true
	}
	cat["copilot.cost"] = cost
	budget := map[string]bool{"copilot.budget.name": true, "copilot.budget.scope": true, "copilot.budget.value": true, "service.name": true}
	cat["copilot.budget.utilization"] = &metricDef{kind: "gauge", unit: "1", attrs: budget}
	cat["copilot.budget.spend"] = &metricDef{kind: "gauge", unit: "USD", attrs: budget}
	return cat
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v), path)
}

// promName is the name the collector's prometheus exporter gives a metric
// (v0.159.0, the default translation): dots to underscores, the unit as a
// suffix (annotations such as {token} dropped, s as seconds, 1 as ratio on
// gauges), _total on counters. TestPrometheusBackfill in
// cmd/otelcol-copilot-gateway scrapes these names from a running collector.
func promName(name string, m *metricDef) string {
	n := strings.ReplaceAll(name, ".", "_")
	switch {
	case strings.HasPrefix(m.unit, "{"):
	case m.unit == "s":
		n += "_seconds"
	case m.unit == "1":
		if m.kind == "gauge" {
			n += "_ratio"
		}
	case m.unit != "":
		n += "_" + m.unit
	}
	if m.kind == "sum" {
		n += "_total"
	}
	return n
}

func promLabel(attr string) string { return strings.ReplaceAll(attr, ".", "_") }

// promCatalog maps every series name the exporter writes to its metric.
func promCatalog(cat map[string]*metricDef) map[string]*metricDef {
	pc := map[string]*metricDef{}
	for name, m := range cat {
		n := promName(name, m)
		if m.kind == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				pc[n+s] = m
			}
			continue
		}
		pc[n] = m
	}
	return pc
}

// exporterLabels are labels the prometheus exporter adds to every series.
var exporterLabels = map[string]bool{"job": true, "instance": true, "otel_scope_name": true, "otel_scope_version": true, "le": true}

var (
	promMetricRE  = regexp.MustCompile(`\bcopilot_[A-Za-z0-9_]+\b`)
	promByRE      = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	promMatcherRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	promBracesRE  = regexp.MustCompile(`\{[^}]*\}`)
	labelValuesRE = regexp.MustCompile(`label_values\(\s*([A-Za-z0-9_]+)\s*,\s*([A-Za-z0-9_]+)\s*\)`)
)

// checkPromQL holds one expression to the catalog: every copilot_ series
// exists, every label it groups or filters by is a label of each series it
// names, and rate and increase are taken of counters only.
func checkPromQL(t *testing.T, pc map[string]*metricDef, where, expr string) []string {
	t.Helper()
	// Series names are what is left outside grouping and matchers.
	bare := promByRE.ReplaceAllString(expr, "")
	bare = promBracesRE.ReplaceAllString(bare, "")
	bare = labelValuesRE.ReplaceAllString(bare, "$1")
	names := promMetricRE.FindAllString(bare, -1)
	require.NotEmpty(t, names, "%s: %s names no copilot metric", where, expr)
	counters := strings.Contains(expr, "rate(") || strings.Contains(expr, "increase(")
	var labels []string
	for _, m := range promByRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	for _, m := range promMatcherRE.FindAllStringSubmatch(expr, -1) {
		labels = append(labels, m[1])
	}
	for _, m := range labelValuesRE.FindAllStringSubmatch(expr, -1) {
		labels = append(labels, m[2])
	}
	for _, n := range names {
		m, ok := pc[n]
		if !assert.True(t, ok, "%s: %s is no series the collector exports", where, n) {
			continue
		}
		if counters {
			assert.True(t, m.kind != "gauge" && m.delta, "%s: rate/increase of %s, which is not a counter", where, n)
		}
		for _, l := range labels {
			if exporterLabels[l] {
				continue
			}
			found := false
			for a := range m.attrs {
				if promLabel(a) == l {
					found = true
				}
			}
			assert.True(t, found, "%s: %s has no label %s", where, n, l)
		}
	}
	return names
}

func TestGrafanaDashboard(t *testing.T) {
	pc := promCatalog(catalog(t))
	var dash struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Query      any    `json:"query"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	readJSON(t, "grafana/copilot.json", &dash)
	require.NotEmpty(t, dash.UID)
	require.NotEmpty(t, dash.Templating.List)
	assert.Equal(t, "datasource", dash.Templating.List[0].Type, "the Prometheus data source is a variable")
	for _, v := range dash.Templating.List[1:] {
		checkPromQL(t, pc, "variable "+v.Name, v.Definition)
	}
	var all strings.Builder
	for _, p := range dash.Panels {
		assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			checkPromQL(t, pc, "panel "+p.Title, tg.Expr)
			all.WriteString(tg.Expr + "\n")
		}
	}
	covers(t, "grafana", all.String(), []string{
		"by (team)", "by (project)", "by (ticket)", "by (gen_ai_request_model)", "by (gen_ai_token_type)",
		"copilot_usage_premium_requests_total", "copilot_usage_nano_aiu_total", "copilot_budget_utilization_ratio",
		"copilot_sessions_total", "by (user_name)", "copilot_errors_total", "rate.?limit", `team="unattributed"`,
	})
}

func TestPrometheusAlerts(t *testing.T) {
	pc := promCatalog(catalog(t))
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "prometheus/alerts.yaml", &rules)
	var all strings.Builder
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			checkPromQL(t, pc, g.Name+"/"+r.Alert+r.Record, r.Expr)
			all.WriteString(r.Expr + "\n")
		}
	}
	covers(t, "alerts", all.String(), []string{"copilot_budget_utilization_ratio", ">= 0.9", ">= 1", "rate(copilot_cost_USD_total"})

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: rules checked for names only")
		return
	}
	out, err := exec.Command(promtool, "check", "rules", "prometheus/alerts.yaml").CombinedOutput()
	require.NoError(t, err, string(out))
}

var ddQueryRE = regexp.MustCompile(`(\w+):(copilot\.[a-z0-9_.]+)\{([^}]*)\}(?: by \{([^}]*)\})?(\.as_count\(\))?`)

// checkDatadog holds a Datadog metric query to the catalog, as Datadog's
// OTLP ingest names things: the OTLP metric and attribute names, dots kept;
// a delta sum is a count (.as_count()), a gauge is not.
func checkDatadog(t *testing.T, cat map[string]*metricDef, vars map[string]string, where, q string) []string {
	t.Helper()
	ms := ddQueryRE.FindAllStringSubmatch(q, -1)
	require.NotEmpty(t, ms, "%s: %q names no copilot metric", where, q)
	var names []string
	for _, m := range ms {
		name, filter, by, asCount := m[2], m[3], m[4], m[5] != ""
		names = append(names, name)
		def, ok := cat[name]
		if !assert.True(t, ok, "%s: %s is not documented", where, name) {
			continue
		}
		assert.Equal(t, def.kind == "sum" && def.delta, asCount, "%s: %s: .as_count() exactly on delta sums", where, name)
		var tags []string
		for _, f := range strings.Split(filter, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "*" || f == "":
			case strings.HasPrefix(f, "$"):
				tag, ok := vars[f[1:]]
				require.True(t, ok, "%s: no template variable %s", where, f)
				tags = append(tags, tag)
			default:
				tag, _, _ := strings.Cut(f, ":")
				tags = append(tags, tag)
			}
		}
		for _, b := range strings.Split(by, ",") {
			if b = strings.TrimSpace(b); b != "" {
				tags = append(tags, b)
			}
		}
		for _, tag := range tags {
			assert.True(t, def.attrs[tag], "%s: %s has no attribute %s", where, name, tag)
		}
	}
	return names
}

func TestDatadogDashboard(t *testing.T) {
	cat := catalog(t)
	var dash struct {
		Title     string `json:"title"`
		Variables []struct {
			Name   string `json:"name"`
			Prefix string `json:"prefix"`
		} `json:"template_variables"`
		Widgets []struct {
			Definition struct {
				Title    string `json:"title"`
				Requests []struct {
					Queries []struct {
						Query string `json:"query"`
					} `json:"queries"`
				} `json:"requests"`
			} `json:"definition"`
		} `json:"widgets"`
	}
	readJSON(t, "datadog/dashboard.json", &dash)
	require.NotEmpty(t, dash.Title)
	vars := map[string]string{}
	for _, v := range dash.Variables {
		vars[v.Name] = v.Prefix
	}
	var all strings.Builder
	for _, w := range dash.Widgets {
		require.NotEmpty(t, w.Definition.Requests, w.Definition.Title)
		for _, r := range w.Definition.Requests {
			for _, q := range r.Queries {
				checkDatadog(t, cat, vars, w.Definition.Title, q.Query)
				all.WriteString(q.Query + "\n")
			}
		}
	}
	covers(t, "datadog", all.String(), []string{
		"by {team}", "by {project}", "by {ticket}", "by {gen_ai.request.model}", "by {gen_ai.token.type}",
		"copilot.usage.premium_requests", "copilot.usage.nano_aiu", "copilot.budget.utilization",
		"copilot.sessions", "by {user.name}", "copilot.errors", "rate_limit", "team:unattributed",
	})

	var monitors []struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Query   string `json:"query"`
		Message string `json:"message"`
		Options struct {
			Thresholds map[string]float64 `json:"thresholds"`
		} `json:"options"`
	}
	readJSON(t, "datadog/monitors.json", &monitors)
	require.NotEmpty(t, monitors)
	all.Reset()
	for _, m := range monitors {
		assert.Equal(t, "query alert", m.Type, m.Name)
		assert.NotEmpty(t, m.Message, m.Name)
		assert.Contains(t, m.Options.Thresholds, "critical", m.Name)
		checkDatadog(t, cat, nil, m.Name, m.Query)
		all.WriteString(m.Query + "\n")
	}
	covers(t, "datadog monitors", all.String(), []string{"copilot.budget.utilization", ">= 1", "copilot.cost{*} by {team}.as_count()"})
	for _, m := range monitors {
		if strings.Contains(m.Query, "copilot.budget.utilization") {
			assert.Equal(t, 0.9, m.Options.Thresholds["warning"])
			assert.Equal(t, 1.0, m.Options.Thresholds["critical"])
		}
	}
}

func TestHoneycombBoard(t *testing.T) {
	cat := catalog(t)
	// Honeycomb stores each OTLP metric data point as an event with a
	// column named by the metric holding its value, and a column for each
	// attribute and resource attribute.
	columns := map[string]bool{}
	for _, m := range cat {
		for a := range m.attrs {
			columns[a] = true
		}
	}
	var queries []struct {
		Key        string `json:"key"`
		Caption    string `json:"caption"`
		QueryStyle string `json:"query_style"`
		Query      struct {
			Calculations []struct {
				Op     string `json:"op"`
				Column string `json:"column"`
			} `json:"calculations"`
			Breakdowns []string `json:"breakdowns"`
			Filters    []struct {
				Column string `json:"column"`
				Op     string `json:"op"`
			} `json:"filters"`
			TimeRange int `json:"time_range"`
		} `json:"query"`
	}
	readJSON(t, "honeycomb/queries.json", &queries)
	keys := map[string]bool{}
	var all strings.Builder
	for _, q := range queries {
		require.NotEmpty(t, q.Key)
		require.False(t, keys[q.Key], "duplicate key %s", q.Key)
		keys[q.Key] = true
		assert.Positive(t, q.Query.TimeRange, q.Key)
		var metrics []*metricDef
		for _, c := range q.Query.Calculations {
			all.WriteString(c.Op + "(" + c.Column + ")\n")
			if m, ok := cat[c.Column]; ok {
				metrics = append(metrics, m)
				switch m.kind {
				case "sum":
					assert.Equal(t, "SUM", c.Op, "%s: a delta sum's points add up", q.Key)
				case "gauge":
					assert.NotEqual(t, "SUM", c.Op, "%s: a gauge's points do not add up", q.Key)
				}
				continue
			}
			assert.True(t, columns[c.Column], "%s: %s is no metric or attribute", q.Key, c.Column)
			assert.Equal(t, "COUNT_DISTINCT", c.Op, q.Key)
		}
		var attrs []string
		attrs = append(attrs, q.Query.Breakdowns...)
		for _, f := range q.Query.Filters {
			all.WriteString(f.Column + " " + f.Op + "\n")
			if _, ok := cat[f.Column]; ok {
				assert.Equal(t, "exists", f.Op, q.Key)
				continue
			}
			attrs = append(attrs, f.Column)
		}
		for _, b := range q.Query.Breakdowns {
			all.WriteString("breakdown " + b + "\n")
		}
		for _, a := range attrs {
			assert.True(t, columns[a], "%s: %s is no attribute", q.Key, a)
			for _, m := range metrics {
				assert.True(t, m.attrs[a], "%s: its metric has no attribute %s", q.Key, a)
			}
		}
	}
	covers(t, "honeycomb", all.String(), []string{
		"breakdown team", "breakdown project", "breakdown ticket", "breakdown gen_ai.request.model", "breakdown gen_ai.token.type",
		"SUM(copilot.usage.premium_requests)", "SUM(copilot.usage.nano_aiu)", "MAX(copilot.budget.utilization)",
		"SUM(copilot.sessions)", "COUNT_DISTINCT(user.name)", "SUM(copilot.errors)", "breakdown error.type", "team =",
	})

	var board struct {
		Name    string `json:"name"`
		Queries []struct {
			Caption string `json:"caption"`
			QueryID string `json:"query_id"`
		} `json:"queries"`
	}
	readJSON(t, "honeycomb/board.json", &board)
	require.NotEmpty(t, board.Name)
	var onBoard []string
	for _, q := range board.Queries {
		key := strings.TrimSuffix(strings.TrimPrefix(q.QueryID, "${"), "}")
		assert.True(t, keys[key], "board names query %s, which queries.json lacks", q.QueryID)
		onBoard = append(onBoard, key)
	}
	for k := range keys {
		assert.True(t, slices.Contains(onBoard, k), "query %s is not on the board", k)
	}
}

// covers checks that what a backend's queries say, together, includes
// each of the things the dashboards are for.
func covers(t *testing.T, backend, text string, wants []string) {
	t.Helper()
	for _, w := range wants {
		assert.Contains(t, text, w, "%s: nothing shows %s", backend, w)
	}
}

// TestFilesAreWellFormed parses every file under dashboards/.
func TestFilesAreWellFormed(t *testing.T) {
	require.NoError(t, filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		b, rerr := os.ReadFile(path)
		switch filepath.Ext(path) {
		case ".json":
			require.NoError(t, rerr)
			var v any
			assert.NoError(t, json.Unmarshal(b, &v), path)
		case ".yaml", ".yml":
			require.NoError(t, rerr)
			var v any
			assert.NoError(t, yaml.Unmarshal(b, &v), path)
		}
		return nil
	}))
}
