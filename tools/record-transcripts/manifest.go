package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sessionFacts is what the manifest reports about one recorded transcript,
// all of it read from the file.
type sessionFacts struct {
	ID          string
	Counts      map[string]int
	Shutdowns   []shutdownFacts
	RecordSum   map[string]*metric // per model, summed over usage records
	Versions    []string           // copilotVersion of session.start, then of each session.resume that names one
	Bytes       int
	EndsNewline bool
	NULs        int
	BadLines    int    // lines that are not valid JSON
	LastType    string // type of the last event in the file
}

type shutdownFacts struct {
	Type    string // shutdownType, when written
	Models  map[string]*metric
	Differs bool // accountingSnapshot.modelMetrics disagrees with the flat modelMetrics
}

// metric is a model's accounting; a nil field was not written.
type metric struct {
	Requests, Input, Output, CacheRead, CacheWrite, Reasoning *int64
}

type rawMetric struct {
	Requests struct {
		Count *int64 `json:"count"`
	} `json:"requests"`
	Usage struct {
		InputTokens      *int64 `json:"inputTokens"`
		OutputTokens     *int64 `json:"outputTokens"`
		CacheReadTokens  *int64 `json:"cacheReadTokens"`
		CacheWriteTokens *int64 `json:"cacheWriteTokens"`
		ReasoningTokens  *int64 `json:"reasoningTokens"`
	} `json:"usage"`
}

func (r rawMetric) metric() *metric {
	return &metric{r.Requests.Count, r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CacheReadTokens, r.Usage.CacheWriteTokens, r.Usage.ReasoningTokens}
}

func (m *metric) String() string {
	f := func(p *int64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	}
	return strings.Join([]string{f(m.Requests), f(m.Input), f(m.Output), f(m.CacheRead), f(m.CacheWrite), f(m.Reasoning)}, " | ")
}

func add(dst **int64, v *int64) {
	if v == nil {
		return
	}
	if *dst == nil {
		*dst = new(int64)
	}
	**dst += *v
}

func readFacts(path string) (*sessionFacts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &sessionFacts{
		ID:          filepath.Base(filepath.Dir(path)),
		Counts:      map[string]int{},
		RecordSum:   map[string]*metric{},
		Bytes:       len(b),
		EndsNewline: len(b) > 0 && b[len(b)-1] == '\n',
		NULs:        bytes.Count(b, []byte{0}),
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			f.BadLines++
			continue
		}
		f.Counts[ev.Type]++
		f.LastType = ev.Type
		switch ev.Type {
		case "session.start", "session.resume":
			var d struct {
				CopilotVersion string `json:"copilotVersion"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			v := d.CopilotVersion
			if v == "" {
				v = "?"
			}
			f.Versions = append(f.Versions, v)
		case "session.usage_record":
			var d struct {
				Usage struct {
					Model            string `json:"model"`
					InputTokens      *int64 `json:"inputTokens"`
					OutputTokens     *int64 `json:"outputTokens"`
					CacheReadTokens  *int64 `json:"cacheReadTokens"`
					CacheWriteTokens *int64 `json:"cacheWriteTokens"`
					ReasoningTokens  *int64 `json:"reasoningTokens"`
				} `json:"usage"`
			}
			if json.Unmarshal(ev.Data, &d) != nil {
				continue
			}
			m := f.RecordSum[d.Usage.Model]
			if m == nil {
				m = &metric{}
				f.RecordSum[d.Usage.Model] = m
			}
			one := int64(1)
			add(&m.Requests, &one)
			add(&m.Input, d.Usage.InputTokens)
			add(&m.Output, d.Usage.OutputTokens)
			add(&m.CacheRead, d.Usage.CacheReadTokens)
			add(&m.CacheWrite, d.Usage.CacheWriteTokens)
			add(&m.Reasoning, d.Usage.ReasoningTokens)
		case "session.shutdown":
			var d struct {
				ShutdownType string               `json:"shutdownType"`
				ModelMetrics map[string]rawMetric `json:"modelMetrics"`
				Snapshot     *struct {
					ModelMetrics map[string]rawMetric `json:"modelMetrics"`
				} `json:"accountingSnapshot"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, fmt.Errorf("shutdown: %w", err)
			}
			s := shutdownFacts{Type: d.ShutdownType, Models: map[string]*metric{}}
			for k, v := range d.ModelMetrics {
				s.Models[k] = v.metric()
			}
			if d.Snapshot != nil {
				if len(d.Snapshot.ModelMetrics) != len(d.ModelMetrics) {
					s.Differs = true
				}
				for k, v := range d.Snapshot.ModelMetrics {
					if m, ok := s.Models[k]; !ok || m.String() != v.metric().String() {
						s.Differs = true
					}
				}
			}
			f.Shutdowns = append(f.Shutdowns, s)
		}
	}
	return f, nil
}

// writeManifest writes <out>/MANIFEST.md from the recorded files of the
// cases of the plan that are present.
func writeManifest(out string, cases []caseDef, stores bool) error {
	var b strings.Builder
	if stores {
		b.WriteString(storesHead)
	} else {
		b.WriteString(manifestHead)
	}

	type row struct {
		c   caseDef
		rec *recording
		ses []*sessionFacts
	}
	var rows []row
	for _, c := range cases {
		dir := filepath.Join(out, c.Name)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		r := row{c: c}
		if raw, err := os.ReadFile(filepath.Join(dir, recordFile)); err == nil {
			r.rec = &recording{}
			if err := json.Unmarshal(raw, r.rec); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		files, _ := filepath.Glob(filepath.Join(dir, "session-state", "*", "events.jsonl"))
		sort.Strings(files)
		for _, f := range files {
			sf, err := readFacts(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			r.ses = append(r.ses, sf)
		}
		rows = append(rows, r)
	}

	b.WriteString("\n## Cases\n\n")
	b.WriteString("Counts are of lines in `events.jsonl`. \"Versions in file\" is `copilotVersion` of `session.start` and of each `session.resume` that carries one (`?` when it does not). \"Completions per leg\" is how many chat completions (HTTP 200) the fake provider served during each CLI run, from `recording.json`. \"Ends\" tells whether the file ends with a newline; \"NUL\" counts NUL bytes.\n\n")
	b.WriteString("| case | session id | CLI version per leg | scenario per leg | versions in file | completions per leg | shutdowns | usage_records | usage_checkpoints | resumes | aborts | session.errors | session.warnings | killed / interrupted | CLI exit per leg | last event | ends | NUL |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		var versions, scen, stops, exits, compl []string
		for i, l := range r.c.Legs {
			versions = append(versions, l.Version)
			s := l.Scenario
			if l.Resume {
				s += " (resume)"
			}
			scen = append(scen, s)
			if l.Stop != stopNone {
				stops = append(stops, fmt.Sprintf("leg %d %s", i+1, l.Stop))
			}
			if r.rec != nil && i < len(r.rec.Legs) {
				e := r.rec.Legs[i].Exit
				if len(r.rec.Legs[i].Signals) > 0 {
					e += " (sent " + strings.Join(r.rec.Legs[i].Signals, ", ") + ")"
				}
				exits = append(exits, e)
				compl = append(compl, fmt.Sprint(r.rec.Legs[i].Completions))
			}
		}
		stop := "no"
		if len(stops) > 0 {
			stop = strings.Join(stops, "; ")
		}
		for _, s := range r.ses {
			ends := "newline"
			if !s.EndsNewline {
				ends = "**no newline**"
			}
			if s.BadLines > 0 {
				ends += fmt.Sprintf(", %d invalid line(s)", s.BadLines)
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | `%s` | %s | %d |\n",
				r.c.Name, s.ID, strings.Join(versions, " → "), strings.Join(scen, " → "), strings.Join(s.Versions, " → "),
				strings.Join(compl, " + "),
				s.Counts["session.shutdown"], s.Counts["session.usage_record"], s.Counts["session.usage_checkpoint"],
				s.Counts["session.resume"], s.Counts["abort"], s.Counts["session.error"], s.Counts["session.warning"],
				stop, strings.Join(exits, "; "), s.LastType, ends, s.NULs)
		}
	}

	b.WriteString("\n## The CLI's own accounting\n\n")
	b.WriteString("Per model, as each `session.shutdown` event of the file states it in `data.modelMetrics` (the flat form every version writes; where `data.accountingSnapshot.modelMetrics` is also present it was compared and any disagreement is marked). The **last** shutdown is the one the file ends its accounting with; with two shutdowns, both are listed, in file order. \"usage_record sum\" adds up the `session.usage_record` events of the whole file (requests = number of records), for comparison; it is not a figure the CLI wrote. `–` means the field is absent in the file.\n\n")
	b.WriteString("| case | source | model | requests.count | inputTokens | outputTokens | cacheReadTokens | cacheWriteTokens | reasoningTokens |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		for _, s := range r.ses {
			name := r.c.Name
			if len(r.ses) > 1 {
				name += " `" + s.ID[:8] + "`"
			}
			if len(s.Shutdowns) == 0 {
				fmt.Fprintf(&b, "| %s | no shutdown | | | | | | | |\n", name)
			}
			for i, sd := range s.Shutdowns {
				src := fmt.Sprintf("shutdown %d of %d", i+1, len(s.Shutdowns))
				if i == len(s.Shutdowns)-1 {
					src = "**last** " + src
				}
				if sd.Type != "" {
					src += " (" + sd.Type + ")"
				}
				if sd.Differs {
					src += " ⚠ snapshot differs"
				}
				for _, m := range sortedKeys(sd.Models) {
					fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, src, m, sd.Models[m])
				}
				if len(sd.Models) == 0 {
					fmt.Fprintf(&b, "| %s | %s | (no models) | | | | | | |\n", name, src)
				}
			}
			for _, m := range sortedKeys(s.RecordSum) {
				fmt.Fprintf(&b, "| %s | usage_record sum | %s | %s |\n", name, m, s.RecordSum[m])
			}
		}
	}
	if stores {
		if err := writeStoreSection(&b, out, func() []storeCase {
			var sc []storeCase
			for _, r := range rows {
				sc = append(sc, storeCase{c: r.c, ses: r.ses})
			}
			return sc
		}()); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "MANIFEST.md"), []byte(b.String()), 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

const manifestHead = `# Recorded Copilot CLI transcripts

Every ` + "`events.jsonl`" + ` and ` + "`workspace.yaml`" + ` under ` + "`<case>/session-state/<sessionId>/`" + ` was
written by a real GitHub Copilot CLI (npm package ` + "`@github/copilot`" + `, the version named
per case) running fully offline in bring-your-own-key mode: ` + "`COPILOT_OFFLINE=true`" + `,
` + "`COPILOT_PROVIDER_BASE_URL`" + ` pointing at the scripted OpenAI-compatible server of
` + "`internal/testsupport/fakeprovider`" + ` on 127.0.0.1, model ` + "`gpt-4.1`" + `, ` + "`HOME=/home/dev`" + ` (the ` + "`-home`" + ` below), in a git
repository ` + "`/home/dev/src/payments-api`" + ` on branch ` + "`feature/PAY-4411-refund-retries`" + `
(one empty commit with fixed author and dates, so the same head commit every time).
Each case ran with a fresh ` + "`~/.copilot`" + `.

Nothing in the transcripts was edited except the CLI's own system-prompt text: the
` + "`content`" + ` string of each ` + "`system.message`" + ` event (and the ` + "`content`" + ` of its
` + "`contentBlocks`" + `, where a version writes them) is replaced by
` + "`[system prompt omitted: N characters]`" + ` (` + "`[system prompt block omitted: N characters]`" + `),
N being the length of the original text in characters (Unicode code points). The rest of
each line is byte for byte what the CLI wrote. ` + "`recording.json`" + ` in each case says what
the recorder did (legs, prompts, signals sent, exit status) and every request the fake
provider answered (scenario, step, HTTP status); it was written by the recorder, not the CLI.

The recorder now also keeps each case's ` + "`session-store.db`" + `; the cases here were recorded
before it did and have none. The stores, with their own transcripts, are in
` + "`../stores/`" + ` (its MANIFEST says which versions write a store, with which ` + "`schema_version`" + `,
and from which version it holds per-call usage).

## Re-recording

Install each CLI version with ` + "`cd <cli-dir>/<version> && npm install --no-audit --no-fund @github/copilot@<version>`" + `
(1.0.0–1.0.12 need Node 24; 0.0.x needs a login and does not run offline), then, from the
repository root:

    go run ./tools/record-transcripts -cli-dir <cli-dir> -out testdata/copilot-cli/recorded -home /home/dev

(` + "`-only case1,case2`" + ` records some cases; ` + "`-list`" + ` lists them; ` + "`-check`" + ` reads every
transcript with ` + "`internal/transcript`" + ` and reports unreadable lines; ` + "`-manifest`" + ` rewrites
this file from the recorded files.) The CLIs unpack themselves into ` + "`COPILOT_CACHE_HOME`" + `
(` + "`-cache-dir`" + `, default ` + "`<cli-dir>/cache`" + `). Session ids, timestamps and latencies
differ on every recording; the token figures depend only on request sizes.

The fake provider's scripts (` + "`[scenario:NAME]`" + ` in the prompt): ` + "`multi`" + ` four shell calls
then text; ` + "`continue`" + ` (used on resume) one shell call then text; ` + "`subagent`" + ` a ` + "`task`" + `
call starting an ` + "`explore`" + ` subagent that makes one shell call; ` + "`edit`" + ` create
` + "`src/app.py`" + `, edit it, run it; ` + "`flaky`" + ` first request HTTP 500, ` + "`ratelimit`" + ` first
request HTTP 429 with ` + "`Retry-After: 1`" + `, then one shell call; ` + "`slow`" + ` one shell call
` + "`sleep 30`" + ` during which the recorder sends SIGKILL (to the CLI's process group and
every process it started) or SIGINT (to the CLI's process group, as a terminal's Ctrl-C)
as soon as ` + "`tool.execution_start`" + ` is in the transcript (SIGINT one second later).
Usage per response: prompt tokens = request body bytes / 8, cached = half of that,
reasoning 5, completion 30 + 5 × tool results in the conversation.
`
