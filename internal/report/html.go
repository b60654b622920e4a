package report

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// The HTML page is self-contained: styles inline, charts as inline SVG
// drawn here, no script, no link to anything; it opens offline. The charts
// are written as text, not by the template: every value in them goes
// through esc, for a ledger row's values are whatever its writer sent.

// esc escapes a value for the text or an attribute of the page.
func esc(s string) string { return template.HTMLEscapeString(s) }

var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// bar is one bar of a chart: a label and its stacked parts.
type bar struct {
	Label string
	Parts []part
	Total money.Amount
}

type part struct {
	Name  string
	Value money.Amount
}

// hbars draws horizontal bars, one a line, scaled to the longest.
func hbars(bars []bar, currency string) template.HTML {
	const labelW, barW, lineH = 260, 420, 22
	var top money.Amount
	for _, b := range bars {
		if b.Total.Cmp(top) > 0 {
			top = b.Total
		}
	}
	h := lineH*len(bars) + 4
	var s strings.Builder
	fmt.Fprintf(&s, `<svg width="%d" height="%d" role="img">`, labelW+barW+150, h)
	for i, b := range bars {
		y := i*lineH + 2
		w := b.Total.Ratio(top) * barW
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, labelW-6, y+15, esc(shorten(b.Label, 40)))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %s</title></rect>`, labelW, y+2, w, lineH-6, palette[i%len(palette)], esc(b.Label), esc(b.Total.String()), esc(currency))
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" font-size="12">%s</text>`, float64(labelW)+w+6, y+15, esc(b.Total.String()))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// vstack draws vertical stacked bars (a day each), with a legend of the
// parts' names.
func vstack(bars []bar, names []string, currency string) template.HTML {
	const chartH, colW, left, legendW = 220, 34, 10, 220
	var top money.Amount
	for _, b := range bars {
		if b.Total.Cmp(top) > 0 {
			top = b.Total
		}
	}
	width := left + colW*len(bars) + legendW
	height := chartH + 70
	var s strings.Builder
	fmt.Fprintf(&s, `<svg width="%d" height="%d" role="img">`, width, max(height, 20*len(names)+20))
	color := func(name string) string { return palette[slices.Index(names, name)%len(palette)] }
	for i, b := range bars {
		x := left + i*colW
		y := float64(chartH)
		for _, p := range b.Parts {
			h := p.Value.Ratio(top) * chartH
			y -= h
			fmt.Fprintf(&s, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`, x+3, y, colW-6, h, color(p.Name), esc(b.Label), esc(p.Name), esc(p.Value.String()), esc(currency))
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="10" transform="rotate(60 %d %d)">%s</text>`, x+8, chartH+12, x+8, chartH+12, esc(b.Label))
	}
	fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, chartH, left+colW*len(bars), chartH)
	for i, n := range names {
		x, y := left+colW*len(bars)+16, 10+i*20
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>`, x, y, color(n), x+18, y+11, esc(shorten(n, 28)))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// page is parsed when first used, not when the hook forwarder starts.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(pageText))
})

const pageText = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;white-space:nowrap}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:bold}
.note{color:#666;font-size:12px}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="note">{{.Records}}. Total {{.Total}} {{.Currency}}; without a ticket {{.NoTicket}} {{.Currency}}; with neither a ticket nor a team {{.Unattributed}} {{.Currency}}.</p>
<h2>Spend per ticket</h2>
{{.Tickets}}
<h2>Spend per day, by model</h2>
{{.Days}}
<h2>Top sessions{{if .NoSession}} (of the records that name one){{end}}</h2>
{{.Sessions}}
<h2>Report</h2>
<table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Body}}<tr>{{range $i, $c := .}}<td{{if ge $i $.Keys}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
<tfoot>{{range .Foot}}<tr>{{range $i, $c := .}}<td{{if ge $i $.Keys}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tfoot>
</table>
</body>
</html>
`

func writeHTML(w io.Writer, rep *Report) error {
	head, body, foot := grid(rep, true)
	// Spend per ticket, whatever the report is grouped by.
	var tb []bar
	var noTicket money.Amount
	for _, t := range rep.Tickets {
		tb = append(tb, bar{Label: t.Values[0], Total: t.Cost})
		if t.Values[0] == rep.UnattributedValue {
			noTicket = t.Cost
		}
	}
	var days []bar
	var models []string
	for _, d := range rep.Days {
		if len(days) == 0 || days[len(days)-1].Label != d.Day {
			days = append(days, bar{Label: d.Day})
		}
		b := &days[len(days)-1]
		b.Parts = append(b.Parts, part{d.Model, d.Cost})
		b.Total = b.Total.Add(d.Cost)
		if !slices.Contains(models, d.Model) {
			models = append(models, d.Model)
		}
	}
	slices.Sort(models)
	var sb []bar
	for _, s := range rep.TopSessions {
		label := s.Values[0]
		if r := []rune(label); len(r) > 8 {
			label = string(r[:8])
		}
		sb = append(sb, bar{Label: label + " " + s.Values[1] + " " + s.Values[2], Total: s.Cost})
	}
	return page().Execute(w, map[string]any{
		"Title": title(rep), "Records": recordsNote(rep), "Currency": rep.Currency,
		"Total": rep.Total.Cost.String(), "Unattributed": rep.Unattributed.Cost.String(),
		"NoTicket": noTicket.String(),
		"Tickets":  hbars(tb, rep.Currency), "Days": vstack(days, models, rep.Currency),
		"Sessions": hbars(sb, rep.Currency), "NoSession": rep.NoSession > 0,
		"Head": head, "Body": body, "Foot": foot, "Keys": max(len(rep.By), 1),
	})
}
