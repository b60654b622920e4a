package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

func mbPerCPU(bytes int64, cpu time.Duration) float64 {
	if cpu <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / cpu.Seconds()
}

func mb(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}

func pct(f float64) string {
	if f < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f%% of a core", 100*f)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// summary is a route's medians over its rounds.
type summary struct {
	mbPerCPU, cpu, wall, rss, anon, file, idle float64
}

func summarize(bytes int64, rs []result) summary {
	var s summary
	var thr, cpu, wall, rss, anon, file, idle []float64
	for _, r := range rs {
		thr = append(thr, mbPerCPU(bytes, r.CPU))
		cpu = append(cpu, r.CPU.Seconds())
		wall = append(wall, r.Wall.Seconds())
		rss = append(rss, float64(r.PeakRSS))
		anon = append(anon, float64(r.PeakAnon))
		file = append(file, float64(r.FileRSS))
		idle = append(idle, r.Idle)
	}
	s.mbPerCPU, s.cpu, s.wall, s.rss, s.idle = median(thr), median(cpu), median(wall), median(rss), median(idle)
	s.anon, s.file = median(anon), median(file)
	return s
}

func formatTotals(t Totals) string {
	var b strings.Builder
	for _, m := range unionModels(t, nil) {
		u := t[m]
		fmt.Fprintf(&b, "  %-18s %8d requests, %14d in / %12d out / %14d cache read / %12d cache write tokens, %18d nano-AIU\n",
			m, u.Requests, u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWriteTokens, u.NanoAIU)
	}
	return b.String()
}

func printTable(w io.Writer, c *corpus, f flags, res map[string][]result) {
	fmt.Fprintf(w, "\n%d sessions, %.1f MB; medians of %d round(s); both exports equal the transcripts' accounting in every run\n\n",
		len(c.Paths), float64(c.Bytes)/1e6, f.rounds)
	if f.parseAll {
		fmt.Fprintln(w, "generic route: file_log + json_parser on every line + filter + transform + signal_to_metrics")
	} else {
		fmt.Fprintln(w, "generic route with -generic-prefilter: a filter operator keeps only lines beginning with the usage record's type before json_parser")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| route | MB per CPU-second | CPU-s to caught up | wall to caught up | peak RSS | peak anonymous (sampled) | file-backed at end | CPU once caught up |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	sums := map[string]summary{}
	for _, r := range f.routes {
		s := summarize(c.Bytes, res[r])
		sums[r] = s
		fmt.Fprintf(w, "| %s | %.1f | %.2f | %.2f s | %s | %s | %s | %s |\n", r, s.mbPerCPU, s.cpu, s.wall, mb(int64(s.rss)), mb(int64(s.anon)), mb(int64(s.file)), pct(s.idle))
	}
	ratio := func(label, a, b string) {
		sa, oka := sums[a]
		sb, okb := sums[b]
		if !oka || !okb || sb.mbPerCPU == 0 {
			return
		}
		line := fmt.Sprintf("%s: %s× the MB per CPU-second", label, ratioText(sa.mbPerCPU/sb.mbPerCPU))
		if sb.rss > 0 && sa.rss > 0 {
			line += fmt.Sprintf(", %.2f× the peak RSS", sa.rss/sb.rss)
		}
		if sb.idle > 0 && sa.idle >= 0 {
			line += fmt.Sprintf(", %s× the CPU once caught up", ratioText(sa.idle/sb.idle))
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	ratio("ours/generic, file exporter", "ours-file", "generic-file")
	ratio("ours/generic, OTLP exporter", "ours-otlp", "generic-otlp")
	ratio("receiver (ours-file)/line scan", "ours-file", "scan")
	ratio("receiver (ours-otlp)/line scan", "ours-otlp", "scan")
	ratio("generic-file/line scan", "generic-file", "scan")
	ratio("decoder alone/line scan", "decode", "scan")
	ratio("decoder alone/generic, file exporter (the most ours/generic can reach)", "decode", "generic-file")
	ratio("decoder alone/generic, OTLP exporter (the most ours/generic can reach)", "decode", "generic-otlp")
	fmt.Fprintln(w)
}

type countResult struct {
	files int
	bytes int64
	res   map[string][]result
}

// printScale compares the same size at different file counts: CPU per
// byte against the first count (the corpora's sizes differ a little: a
// session has a least size), and peak RSS growth per file.
func printScale(w io.Writer, routes []string, cs []countResult) {
	fmt.Fprintln(w, "by number of files (same -size):")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| route |")
	for _, c := range cs {
		fmt.Fprintf(w, " %d files (%.0f MB): MB per CPU-s, peak RSS |", c.files, float64(c.bytes)/1e6)
	}
	last := cs[len(cs)-1]
	fmt.Fprintf(w, " CPU per MB, %d÷%d files | peak RSS growth per 1,000 files |\n", last.files, cs[0].files)
	fmt.Fprint(w, "|---|")
	for range cs {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w, "---:|---:|")
	for _, r := range routes {
		fmt.Fprintf(w, "| %s |", r)
		var first, end summary
		for i, c := range cs {
			s := summarize(c.bytes, c.res[r])
			fmt.Fprintf(w, " %.1f, %s |", s.mbPerCPU, mb(int64(s.rss)))
			if i == 0 {
				first = s
			}
			end = s
		}
		perK := "–"
		if first.rss > 0 {
			perK = fmt.Sprintf("%.1f MB", (end.rss-first.rss)/(1<<20)/float64(last.files-cs[0].files)*1000)
		}
		fmt.Fprintf(w, " %.2f | %s |\n", first.mbPerCPU/end.mbPerCPU, perK)
	}
	fmt.Fprintln(w)
}

// ratioText prints a ratio with two significant digits below 0.1.
func ratioText(r float64) string {
	if r != 0 && r < 0.1 {
		return fmt.Sprintf("%.2g", r)
	}
	return fmt.Sprintf("%.2f", r)
}
