package transcript

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateHazards = flag.Bool("update-hazards", false, "rewrite testdata/hazards from the real transcripts")

const hazardDir = "testdata/hazards"

// Real sessions the hazard fixtures are cut from, relative to
// testdata/copilot-cli at the repository root.
const (
	sessEdit    = "1.0.102/session-state/f6f52fa3-9552-4207-8d6e-47987374b948"
	sessBilled1 = "1.0.102-billed/session-state/0b1e1ed0-5a1e-4c0d-9b11-000000000001"
)

// realLine returns line n (1-based) of a real session's events.jsonl.
func realLine(tb testing.TB, session string, n int) []byte {
	tb.Helper()
	lines := realLines(tb, filepath.Join("../../testdata/copilot-cli", session, "events.jsonl"))
	require.LessOrEqual(tb, n, len(lines))
	return append([]byte(nil), lines[n-1]...)
}

// cutAfter cuts line just after the first occurrence of marker.
func cutAfter(tb testing.TB, line []byte, marker string) []byte {
	tb.Helper()
	i := bytes.Index(line, []byte(marker))
	require.GreaterOrEqual(tb, i, 0, "marker %q not in %q", marker, truncate(line))
	return append([]byte(nil), line[:i+len(marker)]...)
}

// replace replaces old by new in line, which must hold old exactly count
// times.
func replace(tb testing.TB, line []byte, old, new string, count int) []byte {
	tb.Helper()
	require.Equal(tb, count, bytes.Count(line, []byte(old)), "occurrences of %q", old)
	return bytes.ReplaceAll(line, []byte(old), []byte(new))
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var nl = []byte("\n")

type hazard struct {
	file  string
	build func(tb testing.TB) []byte
	want  []string
	check func(t *testing.T, items []Item, data []byte)
}

func hazards() []hazard {
	return []hazard{
		{
			file: "a1_nul_tail.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 1), nl, realLine(tb, sessEdit, 2), nl, make([]byte, 512))
			},
			want: []string{"session.start", "hook.start", "skip nul_bytes"},
		},
		{
			file: "a2_nul_glued.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 44), nl, make([]byte, 512), realLine(tb, sessEdit, 45), nl, realLine(tb, sessEdit, 46), nl)
			},
			want: []string{"assistant.turn_start", "skip nul_bytes", "session.usage_record", "assistant.message"},
			check: func(t *testing.T, items []Item, data []byte) {
				// The NUL skip ends where the damaged line starts, so that
				// resuming there reads the usage record again.
				require.Equal(t, int64(bytes.IndexByte(data, 0)), items[1].End)
				u := items[2].Event.Data.(*UsageRecordData).Usage
				require.Equal(t, int64(7018), u.InputTokens.V)
				require.Equal(t, int64(4), u.Accounting.Sequence.V)
			},
		},
		{
			file: "b1_torn_in_string.jsonl",
			build: func(tb testing.TB) []byte {
				frag := cutAfter(tb, realLine(tb, sessEdit, 21), `"apiCallId":"chatcmpl-4c7d`)
				return join(realLine(tb, sessEdit, 20), nl, frag, realLine(tb, sessEdit, 22), nl, realLine(tb, sessEdit, 23), nl)
			},
			want: []string{"assistant.turn_start", "skip torn_line", "repaired assistant.message", "tool.execution_start"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, int64(bytes.IndexByte(data, '\n')+1), items[1].End)
				m := items[2].Event.Data.(*AssistantMessageData)
				require.Equal(t, "chatcmpl-4c7d82bb9e", m.APICallID)
				require.Equal(t, "f8beda99-e4dc-4eeb-9796-64cfdceceffa", items[2].Event.ID)
			},
		},
		{
			file: "b2_torn_between_members.jsonl",
			build: func(tb testing.TB) []byte {
				frag := cutAfter(tb, realLine(tb, sessEdit, 30), `"success":true,`)
				return join(realLine(tb, sessEdit, 29), nl, frag, realLine(tb, sessEdit, 31), nl, realLine(tb, sessEdit, 32), nl)
			},
			want: []string{"hook.end", "skip torn_line", "repaired assistant.turn_end", "assistant.turn_start"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, "3b65e3b2-e465-4f50-a5fe-e3024c326f69", items[2].Event.ID)
			},
		},
		{
			file: "b6_torn_glued_to_skipped.jsonl",
			build: func(tb testing.TB) []byte {
				// The event glued behind the fragment is whole but not
				// one to read: the fragment is torn, the event skipped
				// for its own reason.
				unknown := replace(tb, realLine(tb, sessEdit, 29), `"type":"hook.end"`, `"type":"hook.finished"`, 1)
				badTS := replace(tb, realLine(tb, sessEdit, 31), `"timestamp":"2026-11-22T16:07:27.860Z"`, `"timestamp":"yesterday"`, 1)
				return join(
					realLine(tb, sessEdit, 27), nl,
					cutAfter(tb, realLine(tb, sessEdit, 28), `"toolName":"ed`), unknown, nl,
					cutAfter(tb, realLine(tb, sessEdit, 30), `"turnId":"1",`), badTS, nl,
					realLine(tb, sessEdit, 32), nl)
			},
			want: []string{"hook.end", "skip torn_line", "skip unknown_type", "skip torn_line", "skip invalid_timestamp", "assistant.turn_start"},
		},
		{
			file: "b3_torn_after_colon.jsonl",
			build: func(tb testing.TB) []byte {
				// Cut between a key and its value: the glued event reads
				// as that value, so the line ends early instead of failing
				// on a syntax error.
				frag := cutAfter(tb, realLine(tb, sessEdit, 18), `"result":`)
				return join(realLine(tb, sessEdit, 17), nl, frag, realLine(tb, sessEdit, 19), nl, realLine(tb, sessEdit, 20), nl)
			},
			want: []string{"hook.end", "skip torn_line", "repaired assistant.turn_end", "assistant.turn_start"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, "117cf59f-8be1-45b9-982f-4e334b6fcddf", items[2].Event.ID)
			},
		},
		{
			file: "b4_torn_own_line.jsonl",
			build: func(tb testing.TB) []byte {
				inString := cutAfter(tb, realLine(tb, sessEdit, 33), `"apiCallId":"chatcmpl-bd`)
				betweenMembers := cutAfter(tb, realLine(tb, sessEdit, 35), `"turnId":"2",`)
				return join(realLine(tb, sessEdit, 32), nl, inString, nl, realLine(tb, sessEdit, 34), nl,
					betweenMembers, nl, realLine(tb, sessEdit, 36), nl)
			},
			want: []string{"assistant.turn_start", "skip torn_line", "assistant.message", "skip torn_line", "hook.start"},
		},
		{
			file: "b5_torn_tail.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 44), nl, cutAfter(tb, realLine(tb, sessEdit, 45), `"cacheReadTokens":35`))
			},
			want: []string{"assistant.turn_start", "skip torn_line"},
		},
		{
			file: "c1_raw_newline_tool_result.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 41), nl, replace(tb, realLine(tb, sessEdit, 42), `42\n<shellId`, "42\n<shellId", 1), nl, realLine(tb, sessEdit, 43), nl)
			},
			want: []string{"hook.end", "repaired tool.execution_complete", "assistant.turn_end"},
			check: func(t *testing.T, items []Item, data []byte) {
				d := items[1].Event.Data.(*ToolCompleteData)
				require.Equal(t, "42\n<shellId: 0 completed with exit code 0>", d.Result)
				require.Equal(t, "call_e51868e1", d.ToolCallID)
				require.True(t, d.Success)
				require.NotNil(t, d.ShellExecution)
				require.Equal(t, int64(0), d.ShellExecution.ExitCode.V)
				require.True(t, d.ShellExecution.ExitCode.Set)
				require.Equal(t, "a301b5a6-96e2-4c8c-9c94-cf2bb2424282", items[1].Event.ID)
			},
		},
		{
			file: "c2_raw_newlines_user_message.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 5), nl, replace(tb, realLine(tb, sessEdit, 6), `\n`, "\n", 2), nl, realLine(tb, sessEdit, 7), nl)
			},
			want: []string{"hook.end", "repaired user.message", "system.message"},
			check: func(t *testing.T, items []Item, data []byte) {
				m := items[1].Event.Data.(*UserMessageData)
				require.Equal(t, "Do the task [scenario:edit]", m.Content)
				// Members after the repaired string are read too.
				require.Equal(t, "4550f826-1c91-4635-a933-3c49d38f053c", m.InteractionID)
				require.Equal(t, "c8a19634-8952-48f7-93b4-5444e3526c80", items[1].Event.ParentID)
			},
		},
		{
			file: "c3_raw_newlines_tool_arguments.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 10), nl, replace(tb, realLine(tb, sessEdit, 11), `\n`, "\n", 6), nl, realLine(tb, sessEdit, 12), nl)
			},
			want: []string{"assistant.message", "repaired tool.execution_start", "hook.start"},
			check: func(t *testing.T, items []Item, data []byte) {
				d := items[1].Event.Data.(*ToolStartData)
				require.Equal(t, "call_2946995e", d.ToolCallID)
				require.Equal(t, "create", d.ToolName)
				require.JSONEq(t, `{"path":"/home/dev/src/payments-api/src/app.py","file_text":"def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"}`, d.Arguments)
			},
		},
		{
			file: "c4_raw_newline_unknown_type.jsonl",
			build: func(tb testing.TB) []byte {
				// Two hazards in one event: a type no schema lists, and a
				// raw newline. It is one skip, for the type.
				line := replace(tb, realLine(tb, sessEdit, 42), `"type":"tool.execution_complete"`, `"type":"tool.execution_finished"`, 1)
				line = replace(tb, line, `42\n<shellId`, "42\n<shellId", 1)
				bad := replace(tb, realLine(tb, sessEdit, 30), `"success":true`, `"success":"yes"`, 1)
				bad = replace(tb, bad, `\n`, "\n", 16)
				return join(realLine(tb, sessEdit, 41), nl, line, nl, realLine(tb, sessEdit, 43), nl, bad, nl, realLine(tb, sessEdit, 31), nl)
			},
			want: []string{"hook.end", "skip unknown_type", "assistant.turn_end", "skip invalid_data", "assistant.turn_end"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, "tool.execution_finished", items[1].Skip.Type)
				require.Equal(t, TypeToolComplete, items[3].Skip.Type)
			},
		},
		{
			file: "d1_u2028_u2029.jsonl",
			build: func(tb testing.TB) []byte {
				um := replace(tb, realLine(tb, sessEdit, 6), `"content":"Do the task [scenario:edit]"`, "\"content\":\"Do the task\u2028[scenario:edit]\"", 1)
				am := replace(tb, realLine(tb, sessEdit, 46), `"content":"All done."`, "\"content\":\"All\u2029done.\u2028\"", 1)
				tc := replace(tb, realLine(tb, sessEdit, 42), `<shellId: 0`, "<shellId:\u20290", 1)
				return join(realLine(tb, sessEdit, 5), nl, um, nl, am, nl, tc, nl)
			},
			want: []string{"hook.end", "user.message", "assistant.message", "tool.execution_complete"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, "Do the task\u2028[scenario:edit]", items[1].Event.Data.(*UserMessageData).Content)
				require.Equal(t, "All\u2029done.\u2028", items[2].Event.Data.(*AssistantMessageData).Content)
				require.Equal(t, "42\n<shellId:\u20290 completed with exit code 0>", items[3].Event.Data.(*ToolCompleteData).Result)
			},
		},
		{
			file: "f1_skips.jsonl",
			build: func(tb testing.TB) []byte {
				return join(
					realLine(tb, sessEdit, 1), nl,
					replace(tb, realLine(tb, sessEdit, 3), `"type":"hook.end"`, `"type":"session.remote_sync"`, 1), nl,
					replace(tb, realLine(tb, sessEdit, 5), `"hookType":"userPromptSubmitted"`, `"hookType""userPromptSubmitted"`, 1), nl,
					replace(tb, realLine(tb, sessEdit, 8), `"type":"assistant.turn_start",`, ``, 1), nl,
					replace(tb, realLine(tb, sessEdit, 19), `"timestamp":"2026-11-22T16:07:27.794Z"`, `"timestamp":"2026-11-22 16:07:27.794"`, 1), nl,
					replace(tb, realLine(tb, sessEdit, 20), `"turnId":"1"`, `"turnId":1`, 1), nl,
					replace(tb, realLine(tb, sessEdit, 21), `"inputTokens":6769`, `"inputTokens":"6769"`, 1), nl,
					replace(tb, realLine(tb, sessEdit, 9), `"model":"gpt-4.1",`, ``, 1), nl,
					[]byte("["), realLine(tb, sessEdit, 43), []byte("]"), nl,
					realLine(tb, sessEdit, 31), nl,
				)
			},
			want: []string{
				"session.start",
				"skip unknown_type",
				"skip invalid_json",
				"skip missing_type",
				"skip invalid_timestamp",
				"skip invalid_data",
				"skip invalid_data",
				"skip invalid_data",
				"skip invalid_json",
				"assistant.turn_end",
			},
			check: func(t *testing.T, items []Item, data []byte) {
				require.False(t, knownTypes["session.remote_sync"])
				require.Equal(t, "session.remote_sync", items[1].Skip.Type)
				require.Equal(t, TypeTurnEnd, items[4].Skip.Type)
				require.Equal(t, TypeTurnStart, items[5].Skip.Type)
				require.Equal(t, TypeUsageRecord, items[6].Skip.Type)
				require.Equal(t, TypeUsageRecord, items[7].Skip.Type)
				for _, it := range items[1:9] {
					require.Error(t, it.Skip.Err)
					require.NotEmpty(t, it.Skip.Error())
				}
			},
		},
		{
			file: "f2_crlf_blank.jsonl",
			build: func(tb testing.TB) []byte {
				crlf := []byte("\r\n")
				return join(
					realLine(tb, sessEdit, 8), crlf,
					crlf,
					realLine(tb, sessEdit, 9), crlf,
					[]byte("  \t"), crlf,
					nl,
					realLine(tb, sessEdit, 10), crlf,
					realLine(tb, sessEdit, 11), crlf,
				)
			},
			want: []string{"assistant.turn_start", "session.usage_record", "assistant.message", "tool.execution_start"},
			check: func(t *testing.T, items []Item, data []byte) {
				require.Equal(t, "368240cd-9856-4d2b-a70c-2ca9afae196c", items[0].Event.ParentID)
				require.Equal(t, "986c11e1-96e7-4294-8a4f-a7f4f2a9d5ef", items[1].Event.ParentID)
				require.Equal(t, int64(6656), items[1].Event.Data.(*UsageRecordData).Usage.InputTokens.V)
				// Blank lines yield no item; the next event's End covers them.
				line1 := bytes.Index(data, []byte("\r\n"))
				require.Equal(t, int64(line1+2), items[0].End)
			},
		},
		{
			file: "f3_numbers.jsonl",
			build: func(tb testing.TB) []byte {
				u := realLine(tb, sessBilled1, 9)
				u = replace(tb, u, `"totalNanoAiu":1143240000`, `"totalNanoAiu":4737390000.0`, 1)
				u = replace(tb, u, `"outputTokens":30,`, `"outputTokens":1.5e3,`, 1)
				u = replace(tb, u, `"inputTokens":6656,`, `"inputTokens":6.656E+3,`, 1)
				u = replace(tb, u, `"cacheReadTokens":3328,`, `"cacheReadTokens":3328.000,`, 1)
				u = replace(tb, u, `"duration":40,`, `"duration":4e1,`, 1)
				u = replace(tb, u, `"sequence":1,`, `"sequence":1.0,`, 1)
				return join(u, nl, realLine(tb, sessEdit, 52), nl)
			},
			want: []string{"session.usage_record", "session.shutdown"},
			check: func(t *testing.T, items []Item, data []byte) {
				u := items[0].Event.Data.(*UsageRecordData).Usage
				require.Equal(t, Int{V: 4737390000, Set: true}, u.CopilotUsage.TotalNanoAIU)
				require.Equal(t, Int{V: 1500, Set: true}, u.OutputTokens)
				require.Equal(t, Int{V: 6656, Set: true}, u.InputTokens)
				require.Equal(t, Int{V: 3328, Set: true}, u.CacheReadTokens)
				require.Equal(t, Int{V: 0, Set: true}, u.CacheWriteTokens)
				require.Equal(t, Int{V: 40, Set: true}, u.Duration)
				require.Equal(t, Int{V: 1, Set: true}, u.Accounting.Sequence)
				require.Equal(t, "0b1e1ed0-5a1e-4c0d-9b11-000000000001", u.Accounting.SourceSessionID)
				require.InDelta(t, 1.0, u.Cost, 0)

				s := items[1].Event.Data.(*ShutdownData)
				require.True(t, s.Cumulative)
				tot := s.Totals()
				require.Equal(t, Int{V: 0, Set: true}, tot.NanoAIU) // written 0.0
				require.Equal(t, Int{V: 1, Set: true}, tot.UserRequests)
				require.Len(t, tot.ModelMetrics, 1)
				require.Equal(t, "gpt-4.1", tot.ModelMetrics[0].Model)
				require.Equal(t, int64(27347), tot.ModelMetrics[0].Usage.InputTokens.V)
				require.Equal(t, int64(4), tot.ModelMetrics[0].Requests.Count.V)
				require.Equal(t, int64(11), tot.CodeChanges.LinesAdded.V)
				require.Equal(t, map[string]int64{"f6f52fa3-9552-4207-8d6e-47987374b948": 4}, s.Watermarks)
			},
		},
		{
			file: "f4_incomplete_tail.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 46), nl, cutAfter(tb, realLine(tb, sessEdit, 47), `"timestamp":"2026-11-22T16:0`))
			},
			want: []string{"assistant.message", "skip torn_line"},
		},
		{
			file: "f5_no_final_newline.jsonl",
			build: func(tb testing.TB) []byte {
				return join(realLine(tb, sessEdit, 46), nl, realLine(tb, sessEdit, 47))
			},
			want: []string{"assistant.message", "assistant.turn_end"},
		},
	}
}

// TestHazardFixturesUpToDate checks that every file in testdata/hazards is
// what its recipe makes of the real transcripts (run with -update-hazards
// to rewrite them), and that no file lacks a recipe.
func TestHazardFixturesUpToDate(t *testing.T) {
	names := map[string]bool{}
	for _, h := range hazards() {
		names[h.file] = true
		want := h.build(t)
		path := filepath.Join(hazardDir, h.file)
		if *updateHazards {
			require.NoError(t, os.MkdirAll(hazardDir, 0o755))
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "%s differs from its recipe; run go test -run TestHazardFixturesUpToDate -update-hazards", h.file)
	}
	entries, err := os.ReadDir(hazardDir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jsonl") {
			require.True(t, names[e.Name()], "%s has no recipe", e.Name())
		}
	}
}

func TestHazards(t *testing.T) {
	for _, h := range hazards() {
		t.Run(strings.TrimSuffix(h.file, ".jsonl"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(hazardDir, h.file))
			require.NoError(t, err)

			read := func(src io.Reader) ([]Item, *Reader) {
				r := NewReader(src, 0, 0, Options{CaptureContent: true})
				r.Final = true
				return readAll(t, r, len(data)), r
			}
			items, r := read(bytes.NewReader(data))
			require.Equal(t, h.want, describeAll(items))
			checkEnds(t, items, 0, data)
			require.Equal(t, int64(len(data)), items[len(items)-1].End, "the last item does not end at the end of the file")
			require.Equal(t, int64(len(data)), r.Offset())
			for _, it := range items {
				if it.Skip != nil {
					require.True(t, skipReasons[it.Skip.Reason], it.Skip.Reason)
				}
			}
			if h.check != nil {
				h.check(t, items, data)
			}

			// The items do not depend on how the input arrives.
			for _, chunk := range []int{1, 7, 256} {
				chunked, _ := read(&chunkReader{data: data, n: chunk})
				require.Equal(t, itemKeys(items), itemKeys(chunked), "chunks of %d bytes", chunk)
			}

			// Resuming at any item's End reads nothing twice but skips of
			// the same line: the rest of the file gives the rest of the
			// items, or the line's skips and then the rest.
			for i, it := range items {
				rest := NewReader(bytes.NewReader(data[it.End:]), it.End, 0, Options{CaptureContent: true})
				rest.Final = true
				got := itemKeys(readAll(t, rest, len(data)))
				want := itemKeys(items[i+1:])
				for len(got) > len(want) && strings.HasPrefix(got[0], "skip ") {
					got = got[1:]
				}
				require.Equal(t, want, got, "resumed at item %d (End %d)", i, it.End)
			}
		})
	}
}

// TestHazardsNotFinal reads each fixture as a file still being written:
// everything up to the last complete line is read, and Final then reads the
// rest, with the same items as reading the finished file.
func TestHazardsNotFinal(t *testing.T) {
	for _, h := range hazards() {
		t.Run(strings.TrimSuffix(h.file, ".jsonl"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(hazardDir, h.file))
			require.NoError(t, err)
			live := NewReader(bytes.NewReader(data), 0, 0, Options{})
			items := readAll(t, live, len(data))
			checkEnds(t, items, 0, data[:live.Offset()])
			if !bytes.HasSuffix(data, nl) {
				require.Less(t, live.Offset(), int64(len(data)), "an incomplete last line was consumed")
			}
			tail := NewReader(bytes.NewReader(data[live.Offset():]), live.Offset(), 0, Options{})
			tail.Final = true
			items = append(items, readAll(t, tail, len(data))...)
			require.Equal(t, h.want, describeAll(items))
			require.Equal(t, int64(len(data)), tail.Offset())
		})
	}
}

// TestIncompleteLastLine: a line without its newline is not consumed until
// the rest arrives, whether the reader is created again at its offset or
// the same reader is asked again.
func TestIncompleteLastLine(t *testing.T) {
	first := realLine(t, sessEdit, 46)
	last := realLine(t, sessEdit, 47)
	cut := len(`{"type":"assistant.turn_end","data":{"turnId":"3"},"id":"87d0ed7f`)
	full := join(first, nl, last, nl)
	partial := full[:len(first)+1+cut]

	r := NewReader(bytes.NewReader(partial), 0, 0, Options{})
	it, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, TypeAssistantMessage, it.Event.Type)
	require.Equal(t, int64(len(first)+1), it.End)
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, int64(len(first)+1), r.Offset(), "the incomplete line was consumed")
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF, "asking again changes nothing")
	require.Equal(t, int64(len(first)+1), r.Offset())

	// Created again at its offset once the rest has arrived.
	off := r.Offset()
	r2 := NewReader(bytes.NewReader(full[off:]), off, 0, Options{})
	it, err = r2.Next()
	require.NoError(t, err)
	require.Equal(t, TypeTurnEnd, it.Event.Type)
	require.False(t, it.Repaired)
	require.Equal(t, int64(len(full)), it.End)
	_, err = r2.Next()
	require.ErrorIs(t, err, io.EOF)

	// The same reader, over a source that grows.
	src := &growingReader{data: append([]byte(nil), partial...)}
	r3 := NewReader(src, 0, 0, Options{})
	require.Equal(t, []string{TypeAssistantMessage}, describeAll(readAll(t, r3, len(full))))
	require.Equal(t, int64(len(first)+1), r3.Offset())
	src.data = append(src.data, full[len(partial):len(partial)+10]...) // still no newline
	require.Empty(t, readAll(t, r3, len(full)))
	require.Equal(t, int64(len(first)+1), r3.Offset())
	src.data = full
	it, err = r3.Next()
	require.NoError(t, err)
	require.Equal(t, TypeTurnEnd, it.Event.Type)
	require.Equal(t, int64(len(full)), it.End)

	// A complete event without its newline is read only once Final says
	// the file is finished; it is not repaired.
	noNL := join(first, nl, last)
	r4 := NewReader(bytes.NewReader(noNL), 0, 0, Options{})
	require.Equal(t, []string{TypeAssistantMessage}, describeAll(readAll(t, r4, len(noNL))))
	r5 := NewReader(bytes.NewReader(noNL[r4.Offset():]), r4.Offset(), 0, Options{})
	r5.Final = true
	items := readAll(t, r5, len(noNL))
	require.Equal(t, []string{TypeTurnEnd}, describeAll(items))
	require.Equal(t, int64(len(noNL)), items[0].End)
}

// TestRawNewlineWaitsForTheRest: a line whose string is still open at its
// newline is held back (not consumed) while the next line has not arrived,
// then joined with it.
func TestRawNewlineWaitsForTheRest(t *testing.T) {
	line := replace(t, realLine(t, sessEdit, 42), `42\n<shellId`, "42\n<shellId", 1)
	first := line[:bytes.IndexByte(line, '\n')+1]
	full := join(realLine(t, sessEdit, 41), nl, line, nl)
	prefix := len(realLine(t, sessEdit, 41)) + 1

	src := &growingReader{data: full[:prefix+len(first)]}
	r := NewReader(src, 0, 0, Options{CaptureContent: true})
	require.Equal(t, []string{"hook.end"}, describeAll(readAll(t, r, len(full))))
	require.Equal(t, int64(prefix), r.Offset())

	src.data = full
	items := readAll(t, r, len(full))
	require.Equal(t, []string{"repaired tool.execution_complete"}, describeAll(items))
	require.Equal(t, int64(len(full)), items[0].End)
	require.Equal(t, "42\n<shellId: 0 completed with exit code 0>", items[0].Event.Data.(*ToolCompleteData).Result)
}

// TestRawNewlineCostIsLinear: an event whose string holds many raw
// newlines is rejoined in time linear in its size, not one decode of the
// whole prefix per physical line.
func TestRawNewlineCostIsLinear(t *testing.T) {
	base := realLine(t, sessEdit, 42)
	var out bytes.Buffer
	for i := 0; i < 100_000; i++ {
		out.WriteString("output line with \\\"escaped quotes\\\" and a raw newline\n")
	}
	line := replace(t, base, `"content":"42\n`, `"content":"42`+"\n"+out.String(), 1)
	data := join(line, nl, realLine(t, sessEdit, 43), nl)
	require.Greater(t, len(data), 5<<20)

	start := time.Now()
	r := NewReader(bytes.NewReader(data), 0, 0, Options{CaptureContent: true})
	r.Final = true
	items := readAll(t, r, len(data))
	elapsed := time.Since(start)
	require.Equal(t, []string{"repaired tool.execution_complete", "assistant.turn_end"}, describeAll(items))
	want := "42\n" + strings.ReplaceAll(out.String(), `\"`, `"`) + "<shellId: 0 completed with exit code 0>"
	require.True(t, want == items[0].Event.Data.(*ToolCompleteData).Result, "the result was not rejoined intact")
	// One decode per physical line took over a minute here; linear
	// rejoining takes a few tens of milliseconds.
	require.Less(t, elapsed, 5*time.Second)
}

// TestRawNewlineHostile: lines that keep a rejoined text valid but never
// complete it (each closes a string and opens another) cost bounded work,
// and the reader moves on.
func TestRawNewlineHostile(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"type":"hook.end","data":{"a":"x` + "\n")
	const lines = 50_000
	for range lines {
		b.WriteString(`y","b":"z` + "\n")
	}
	b.Write(realLine(t, sessEdit, 43))
	b.WriteByte('\n')
	data := b.Bytes()

	start := time.Now()
	r := NewReader(bytes.NewReader(data), 0, 0, Options{})
	r.Final = true
	items := readAll(t, r, len(data))
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, items, lines+2)
	require.Equal(t, "skip torn_line", describe(items[0]))
	require.Equal(t, "skip invalid_json", describe(items[1]))
	require.Equal(t, "assistant.turn_end", describe(items[lines+1]))
}

// TestRawNewlinesInManyStrings: an event with raw newlines in many of its
// strings is still rejoined.
func TestRawNewlinesInManyStrings(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"type":"hook.end","data":{`)
	for i := range 24 {
		fmt.Fprintf(&b, `"k%d":"line one%sline two",`, i, "\n")
	}
	b.WriteString(`"hookType":"postToolUse"},"id":"i","timestamp":"2026-11-22T16:07:28.037Z"}` + "\n")
	r := NewReader(bytes.NewReader(b.Bytes()), 0, 0, Options{})
	r.Final = true
	require.Equal(t, []string{"repaired hook.end"}, describeAll(readAll(t, r, b.Len())))
}

// TestLongLine reads a real tool.execution_complete line whose result is
// padded to 5 MB.
func TestLongLine(t *testing.T) {
	pad := strings.Repeat("0123456789abcdef", (5<<20)/16)
	long := replace(t, realLine(t, sessEdit, 42), `"content":"42\n`, `"content":"42\n`+pad, 1)
	after := realLine(t, sessEdit, 43)
	data := join(realLine(t, sessEdit, 41), nl, long, nl, after, nl)
	longEnd := int64(len(realLine(t, sessEdit, 41)) + 1 + len(long) + 1)

	t.Run("default limit", func(t *testing.T) {
		r := NewReader(&chunkReader{data: data, n: 64 << 10}, 0, 0, Options{CaptureContent: true})
		items := readAll(t, r, len(data))
		require.Equal(t, []string{"hook.end", "tool.execution_complete", "assistant.turn_end"}, describeAll(items))
		require.Equal(t, "42\n"+pad+"<shellId: 0 completed with exit code 0>", items[1].Event.Data.(*ToolCompleteData).Result)
		require.Equal(t, longEnd, items[1].End)
		require.Equal(t, int64(len(data)), items[2].End)
	})

	t.Run("1 MiB limit", func(t *testing.T) {
		for _, final := range []bool{false, true} {
			r := NewReader(&chunkReader{data: data, n: 64 << 10}, 0, 1<<20, Options{CaptureContent: true})
			r.Final = final
			var items []Item
			maxCap := 0
			for {
				it, err := r.Next()
				maxCap = max(maxCap, cap(r.buf))
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				items = append(items, it)
			}
			require.Equal(t, []string{"hook.end", "skip line_too_long", "assistant.turn_end"}, describeAll(items))
			require.Equal(t, longEnd, items[1].End)
			require.Equal(t, int64(len(data)), items[2].End)
			require.Less(t, maxCap, len(long)/2, "the reader held too much of the long line (buffer capacity %d)", maxCap)
			t.Logf("Final=%v: line of %d bytes skipped with a buffer of at most %d bytes", final, len(long), maxCap)
		}
	})

	t.Run("1 MiB limit, long last line", func(t *testing.T) {
		data := join(realLine(t, sessEdit, 41), nl, long)
		first := int64(len(realLine(t, sessEdit, 41)) + 1)
		r := NewReader(&chunkReader{data: data, n: 64 << 10}, 0, 1<<20, Options{})
		items := readAll(t, r, len(data))
		require.Equal(t, []string{"hook.end"}, describeAll(items))
		require.Less(t, cap(r.buf), len(long)/2)

		r = NewReader(&chunkReader{data: data, n: 64 << 10}, 0, 1<<20, Options{})
		r.Final = true
		items = readAll(t, r, len(data))
		require.Equal(t, []string{"hook.end", "skip line_too_long"}, describeAll(items))
		require.Equal(t, first, items[0].End)
		require.Equal(t, int64(len(data)), items[1].End)
		require.Less(t, cap(r.buf), len(long)/2)
	})
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := Decode(replace(t, realLine(t, sessEdit, 3), `"type":"hook.end"`, `"type":"x.y"`, 1), Options{})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, ReasonUnknownType, de.Reason)
	require.Contains(t, err.Error(), "unknown_type (x.y)")
	_, err = Decode([]byte(`[]`), Options{})
	require.ErrorAs(t, err, &de)
	require.Equal(t, ReasonInvalidJSON, de.Reason)
	require.ErrorIs(t, err, errNotObject)
	require.Equal(t, "invalid_json: "+errNotObject.Error(), err.Error())
}

// TestBlankLines: only JSON white space makes a line blank (no item);
// anything else on a line of its own is a skip, counted.
func TestBlankLines(t *testing.T) {
	ev := realLine(t, sessEdit, 8)
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"", []string{"assistant.turn_start"}},
		{" \t ", []string{"assistant.turn_start"}},
		{"\r", []string{"assistant.turn_start"}},
		{"\v", []string{"skip invalid_json", "assistant.turn_start"}},
		{"\f", []string{"skip invalid_json", "assistant.turn_start"}},
		{"\u00a0", []string{"skip invalid_json", "assistant.turn_start"}},
		{"\u2028", []string{"skip invalid_json", "assistant.turn_start"}},
		{"\u2029 ", []string{"skip invalid_json", "assistant.turn_start"}},
		{"\x00\x00 ", []string{"skip nul_bytes", "assistant.turn_start"}},
	} {
		data := join([]byte(tc.line), nl, ev, nl)
		r := NewReader(bytes.NewReader(data), 0, 0, Options{})
		items := readAll(t, r, len(data))
		require.Equal(t, tc.want, describeAll(items), "%q", tc.line)
		checkEnds(t, items, 0, data)
		require.Equal(t, int64(len(data)), items[len(items)-1].End)
		if len(items) == 2 {
			require.Equal(t, int64(len(tc.line)+1), items[0].End, "%q", tc.line)
		}
	}
}

// TestLookaheadMovesBuffer: deciding a line that ends inside a string reads
// the next line, which can compact the buffer under the line being
// decided. A fragment must then still be searched for a glued event in its
// own bytes, not in whatever the buffer moved there: here that would read
// the usage record of the next line twice.
func TestLookaheadMovesBuffer(t *testing.T) {
	l0 := realLine(t, sessEdit, 52) // a shutdown, consumed first
	u := realLine(t, sessEdit, 21)  // a usage record
	p := len(l0)
	// A fragment ending inside a string, longer than the usage record.
	l1 := []byte(`{"type":"hook.end","data":{"x":"`)
	l1 = append(l1, bytes.Repeat([]byte("y"), len(u)+10+(p+len(u))%2-len(l1))...)
	// The next line: a torn fragment glued to the usage record, as long
	// as l0 less the consumed bytes compaction keeps (keepBehind), so
	// that after compaction l1's old place shows its tail.
	require.Greater(t, p-len(u), keepBehind)
	g := realLine(t, sessEdit, 30)[:p-len(u)-keepBehind]
	l2 := join(g, u)
	data := join(l0, nl, l1, nl, l2, nl)

	for _, final := range []bool{false, true} {
		// Two reads bring exactly l0 and l1 (and grow the buffer, so that
		// the next one compacts it in place).
		chunk := (p + 1 + len(l1) + 1) / 2
		require.Equal(t, p+1+len(l1)+1, 2*chunk)
		r := NewReader(&chunkReader{data: data, n: chunk}, 0, 0, Options{})
		r.Final = final
		items := readAll(t, r, len(data))
		require.Equal(t, []string{"session.shutdown", "skip torn_line", "skip torn_line", "repaired session.usage_record"}, describeAll(items))
		require.Equal(t, int64(p+1+len(l1)+1), items[1].End)
		checkEnds(t, items, 0, data)
	}
}
