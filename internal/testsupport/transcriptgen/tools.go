package transcriptgen

import "strconv"

// maxOutputBytes bounds one tool output, so that the longest lines (the
// postToolUse hook and tool.execution_complete carrying it) stay around
// 1.7 MB, the longest seen in real transcripts.
const maxOutputBytes = 1_600_000

// largeOutputBytes is the CLI's large_output_threshold_bytes; above it the
// hook's sessionLog copy of a shell output is elided.
const largeOutputBytes = 20480

type weighted struct {
	kind   string
	weight int
}

var (
	mainTools = []weighted{{"bash", 36}, {"view", 22}, {"grep", 10}, {"glob", 4}, {"edit", 14}, {"create", 4}, {"task", 10}}
	subTools  = []weighted{{"view", 45}, {"grep", 30}, {"glob", 10}, {"bash", 15}}
)

func pickWeighted(r *rng, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := r.intn(total)
	for _, w := range ws {
		if n < w.weight {
			return w.kind
		}
		n -= w.weight
	}
	return ws[0].kind
}

var bashCommands = [][2]string{
	{"go test ./... 2>&1 | tail -n 200", "Run the test suite"},
	{"go build ./... && go vet ./...", "Build and vet"},
	{"git log --oneline -n 50", "Show recent commits"},
	{"git diff HEAD~1 --stat && git diff HEAD~1", "Show the last change"},
	{"ls -la internal/", "List the internal packages"},
	{`grep -rn "Refund" internal | head -100`, "Find refund references"},
	{"npm test -- --runInBand 2>&1", "Run the JS tests"},
	{"pytest -q tests/ 2>&1 | tail -n 100", "Run the Python tests"},
	{"tail -n 500 logs/worker.log", "Read the worker log"},
	{"make lint", "Run the linters"},
	{"docker compose logs --tail=300 api", "Read the API logs"},
	{`python3 -c 'import sys; sys.path.insert(0, "src"); import app; print(app.main())'`, "Run it"},
}

var (
	exploreTools = []string{"grep", "glob", "view", "bash", "read_bash", "stop_bash", "powershell", "read_powershell",
		"stop_powershell", "lsp", "github-mcp-server/get_commit", "github-mcp-server/get_file_contents",
		"github-mcp-server/issue_read", "github-mcp-server/get_pull_request", "github-mcp-server/get_pull_request_files",
		"github-mcp-server/list_branches", "github-mcp-server/list_commits", "github-mcp-server/list_issues",
		"github-mcp-server/list_pull_requests", "github-mcp-server/search_code", "github-mcp-server/search_issues"}
	generalTools = []string{"bash", "read_bash", "write_bash", "stop_bash", "list_bash", "view", "create", "edit",
		"grep", "glob", "web_fetch", "report_intent", "github-mcp-server/get_file_contents",
		"github-mcp-server/list_commits", "github-mcp-server/search_code"}
)

// argsBuilder renders a small JSON object.
type argsBuilder struct{ b []byte }

func (a *argsBuilder) str(k, v string) *argsBuilder {
	a.sep()
	a.b = appendStr(a.b, k)
	a.b = append(a.b, ':')
	a.b = appendStr(a.b, v)
	return a
}

func (a *argsBuilder) raw(k string, v []byte) *argsBuilder {
	a.sep()
	a.b = appendStr(a.b, k)
	a.b = append(a.b, ':', '"')
	a.b = append(a.b, v...)
	a.b = append(a.b, '"')
	return a
}

func (a *argsBuilder) lit(k, v string) *argsBuilder {
	a.sep()
	a.b = appendStr(a.b, k)
	a.b = append(a.b, ':')
	a.b = append(a.b, v...)
	return a
}

func (a *argsBuilder) sep() {
	if len(a.b) == 0 {
		a.b = append(a.b, '{')
	} else {
		a.b = append(a.b, ',')
	}
}

func (a *argsBuilder) done() []byte {
	if len(a.b) == 0 {
		return []byte("{}")
	}
	return append(a.b, '}')
}

func (g *generator) planTools(a *agentState) []*toolCall {
	r := g.r
	n := 1
	if r.chance(150) {
		n = 2
	} else if r.chance(50) {
		n = 3
	}
	tools := make([]*toolCall, 0, n)
	task := false
	for i := 0; i < n; i++ {
		var kind string
		switch {
		case a.agentID != "":
			kind = pickWeighted(r, subTools)
		case g.forceTask && i == 0:
			kind = "task"
			g.forceTask = false
		default:
			kind = pickWeighted(r, mainTools)
			if kind == "task" && (!g.o.Subagents || task) {
				kind = "bash"
			}
		}
		task = task || kind == "task"
		tools = append(tools, g.newTool(kind))
	}
	return tools
}

func (g *generator) newTool(kind string) *toolCall {
	r := g.r
	tc := &toolCall{id: "call_" + randAlnum(r, 24), name: kind}
	var ab argsBuilder
	switch kind {
	case "bash":
		c := pick(r, bashCommands)
		tc.args = ab.str("command", c[0]).str("description", c[1]).str("mode", "sync").
			lit("initial_wait", strconv.Itoa(r.between(10, 60))).done()
		tc.intention, tc.title, tc.shell = c[1], "Running command", true
		tc.perm = (&argsBuilder{}).str("command", c[0]).done()
	case "view":
		tc.path = pick(r, g.files)
		ab.str("path", tc.path)
		tc.viewFrom = 1
		if r.chance(400) {
			tc.viewFrom = r.between(1, 400)
			ab.lit("view_range", "["+strconv.Itoa(tc.viewFrom)+","+strconv.Itoa(tc.viewFrom+r.between(20, 400))+"]")
		}
		tc.args = ab.done()
		tc.intention, tc.title = "view the file at "+tc.path+".", "Viewing file"
	case "grep":
		tc.pattern = typeName(r)
		tc.args = ab.str("pattern", tc.pattern).str("path", g.cwd).str("output_mode", "content").lit("-n", "true").done()
		tc.intention, tc.title = "search for "+tc.pattern, "Searching files"
	case "glob":
		tc.pattern = "**/*" + g.ext
		tc.args = ab.str("pattern", tc.pattern).done()
		tc.intention, tc.title = "find files matching "+tc.pattern, "Finding files"
	case "create":
		tc.path = g.newFilePath()
		from, n := g.p.code.span(r, int(r.spread(2500)))
		text := g.p.code.appendSpan(nil, from, n, "")
		tc.args = ab.str("path", tc.path).raw("file_text", text).done()
		tc.diff = appendEscaped(nil, "\ndiff --git a"+tc.path+" b"+tc.path+"\ncreate file mode 100644\nindex 0000000..0000000\n--- a/dev/null\n+++ b"+
			tc.path+"\n@@ -1,0 +1,"+strconv.Itoa(n)+" @@\n")
		tc.diff = g.p.code.appendSpan(tc.diff, from, n, "+")
		tc.text = appendEscaped(nil, "Created file "+tc.path+" with "+strconv.Itoa(len(text))+" characters")
		tc.added = n
		tc.perm = (&argsBuilder{}).str("file_path", tc.path).raw("diff", tc.diff).done()
		tc.intention, tc.title = "create a new file at "+tc.path+".", "Creating file"
	case "edit":
		tc.path = pick(r, g.files)
		oldFrom, oldN := g.p.code.span(r, int(r.spread(300)))
		newFrom, newN := g.p.code.span(r, int(r.spread(600)))
		tc.args = ab.str("path", tc.path).raw("old_str", g.p.code.appendSpan(nil, oldFrom, oldN, "")).
			raw("new_str", g.p.code.appendSpan(nil, newFrom, newN, "")).done()
		at := strconv.Itoa(r.between(1, 400))
		tc.diff = appendEscaped(nil, "\ndiff --git a"+tc.path+" b"+tc.path+"\nindex 0000000..0000000 100644\n--- a"+tc.path+"\n+++ b"+
			tc.path+"\n@@ -"+at+","+strconv.Itoa(oldN)+" +"+at+","+strconv.Itoa(newN)+" @@\n")
		tc.diff = g.p.code.appendSpan(tc.diff, oldFrom, oldN, "-")
		tc.diff = g.p.code.appendSpan(tc.diff, newFrom, newN, "+")
		tc.text = appendEscaped(nil, "File "+tc.path+" updated with changes.")
		tc.added, tc.removed = newN, oldN
		tc.perm = (&argsBuilder{}).str("file_path", tc.path).raw("diff", tc.diff).done()
		tc.intention, tc.title = "edit the file at "+tc.path+".", "Editing file"
	case "task":
		noun := pick(r, nouns)
		if r.chance(700) {
			tc.subType, tc.subName = "explore", "explorer"
		} else {
			tc.subType, tc.subName = "general-purpose", noun+"-worker"
		}
		tc.subDesc = "explore " + noun + " " + pick(r, verbs) + " code"
		prompt := "Find the code that does the " + noun + " " + pick(r, verbs) + " step in " + g.cwd +
			" and report the files, functions and tests involved. " + string(appendWords(nil, r, r.between(10, 60)))
		tc.subPrompt = appendEscaped(nil, prompt)
		tc.args = ab.str("description", tc.subDesc).raw("prompt", tc.subPrompt).str("agent_type", tc.subType).
			str("name", tc.subName).done()
		tc.intention = tc.subDesc
	}
	return tc
}

func subOf(a *agentState) *agentState {
	if a.agentID == "" {
		return nil
	}
	return a
}

func (g *generator) toolStart(a *agentState, tc *toolCall, turn string) {
	g.tick(1, 4)
	g.begin("tool.execution_start")
	g.obj()
	g.str("toolCallId", tc.id)
	g.str("toolName", tc.name)
	g.key("arguments")
	g.buf = append(g.buf, tc.args...)
	g.buf = append(g.buf, ',')
	g.str("turnId", turn)
	g.str("model", a.model)
	if tc.title != "" {
		g.str("toolTitle", tc.title)
	}
	if tc.shell {
		g.lit("shellToolInfo", `{"possiblePaths":[],"hasWriteFileRedirection":false}`)
	}
	if a.ptc != "" {
		g.str("parentToolCallId", a.ptc)
	}
	g.done()
	g.end(a)
}

func (g *generator) preToolUse(a *agentState, tc *toolCall) {
	g.hook(subOf(a), "preToolUse", func() {
		g.str("sessionId", a.hookSess)
		g.str("cwd", g.cwd)
		g.key("toolCalls")
		g.buf = append(g.buf, `[{"id":"`...)
		g.buf = append(g.buf, tc.id...)
		g.buf = append(g.buf, `","name":"`...)
		g.buf = append(g.buf, tc.name...)
		g.buf = append(g.buf, `","args":`...)
		g.buf = append(g.buf, tc.args...)
		g.buf = append(g.buf, "}],"...)
	})
}

// execTool writes a tool call from its start to its completion.
func (g *generator) execTool(a *agentState, tc *toolCall, turn string) {
	r := g.r
	g.toolStart(a, tc, turn)
	g.preToolUse(a, tc)
	if tc.perm != nil {
		g.hook(nil, "permissionRequest", func() {
			g.str("hookName", "permissionRequest")
			g.str("sessionId", g.sessionID)
			g.stamp()
			g.str("cwd", g.cwd)
			g.lit("permissionSuggestions", "[]")
			if tc.name == "create" {
				g.str("toolName", "edit")
			} else {
				g.str("toolName", tc.name)
			}
			g.key("toolInput")
			g.buf = append(g.buf, tc.perm...)
			g.buf = append(g.buf, ',')
			g.str("traceparent", g.traceparent(g.main.span))
			if a.agentID != "" {
				g.subFields(a)
			}
		})
	}
	var content []byte
	exit := 0
	var sub *agentState
	if tc.name == "task" {
		sub = g.runSubagent(a, tc)
		content = sub.response
	} else {
		content = g.toolOutput(tc, &exit)
		if tc.shell {
			g.tick(50, 20000)
		} else {
			g.tick(5, 200)
		}
	}
	if tc.added+tc.removed > 0 {
		g.acct.fileChange(tc.path, tc.added, tc.removed)
		if tc.name == "create" {
			g.files = append(g.files, tc.path)
		}
	}
	a.toolCalls++
	g.st.ToolCalls++

	g.hook(subOf(a), "postToolUse", func() {
		g.str("sessionId", a.hookSess)
		g.stamp()
		g.str("cwd", g.cwd)
		g.str("toolName", tc.name)
		g.key("toolArgs")
		g.buf = append(g.buf, tc.args...)
		g.buf = append(g.buf, ',')
		g.open("toolResult")
		switch tc.name {
		case "bash":
			g.raw("textResultForLlm", content)
			g.str("resultType", "success")
			if len(content) <= largeOutputBytes {
				g.raw("sessionLog", content)
			} else {
				g.elided(len(content))
			}
			g.key("toolTelemetry")
			g.telemetry(a, tc, sub, len(content), false)
		case "task":
			g.raw("textResultForLlm", content)
			g.str("resultType", "success")
			g.key("toolTelemetry")
			g.telemetry(a, tc, sub, len(content), false)
		default:
			g.str("resultType", "success")
			g.raw("textResultForLlm", content)
			g.key("toolTelemetry")
			g.telemetry(a, tc, sub, len(content), false)
			g.elided(len(content) + r.between(100, 400))
		}
		g.close()
	})

	g.tick(1, 4)
	g.begin("tool.execution_complete")
	g.obj()
	g.str("toolCallId", tc.id)
	g.str("model", a.model)
	g.str("interactionId", a.interactionID)
	g.str("turnId", turn)
	g.boolean("rte", false)
	switch tc.name {
	case "bash":
		g.lit("shellExecution", `{"exitCode":`+strconv.Itoa(exit)+`}`)
	case "edit", "create":
		g.key("fileEdits")
		g.buf = append(g.buf, `[{"path":`...)
		g.buf = appendStr(g.buf, tc.path)
		g.buf = append(g.buf, `,"kind":"`...)
		g.buf = append(g.buf, tc.name...)
		g.buf = append(g.buf, `"}],`...)
	}
	g.boolean("success", true)
	g.open("result")
	g.raw("content", content)
	if tc.diff != nil {
		g.raw("detailedContent", tc.diff)
	}
	g.close()
	g.key("toolTelemetry")
	g.telemetry(a, tc, sub, len(content), true)
	if a.ptc != "" {
		g.str("parentToolCallId", a.ptc)
	}
	g.done()
	g.end(a)

	a.conv += int64(min(len(content)/4, 8000)) + int64(len(tc.args)/4)
}

func (g *generator) elided(n int) {
	g.str("sessionLog", "[copilot:elided sessionLog ("+strconv.Itoa(n)+
		" bytes) - duplicated pre-hook tool-result field; canonical data remains in adjacent tool and skill events]")
}

// telemetry writes a toolTelemetry object; complete selects the
// tool.execution_complete form (with result_token_count).
func (g *generator) telemetry(a *agentState, tc *toolCall, sub *agentState, n int, complete bool) {
	ctxMetrics := func() {
		g.f64("context_token_limit", float64(a.info.maxPrompt))
		g.f64("context_current_tokens", float64(a.sysTokens+a.toolTokens+a.conv))
		g.f64("large_output_threshold_bytes", largeOutputBytes)
		if complete {
			g.num("result_token_count", int64(n/4+1))
		}
	}
	g.buf = append(g.buf, '{')
	switch tc.name {
	case "bash":
		g.lit("properties", `{"customTimeout":"true","executionMode":"sync","detached":"false","sandboxApplied":"false","sandboxOptOutRequested":"false"}`)
		g.open("metrics")
		g.f64("commandTimeout", 30000)
		ctxMetrics()
		g.close()
	case "task":
		g.open("properties")
		g.str("prompt_length", strconv.Itoa(len(tc.subPrompt)))
		g.str("response_length", strconv.Itoa(n))
		g.str("agent_name", tc.subType)
		g.str("agent_type", tc.subType)
		g.str("execution_mode", "sync")
		g.str("resolved_model", sub.model)
		g.close()
		g.open("restrictedProperties")
		g.str("agent_name", tc.subType)
		g.str("agent_id", sub.agentID)
		g.close()
		g.open("metrics")
		g.num("numberOfToolCallsMadeByAgent", int64(sub.toolCalls))
		g.num("response_length", int64(n))
		ctxMetrics()
		g.close()
	case "grep", "glob":
		g.open("properties")
		g.str("command", tc.name)
		g.str("hasPath", strconv.FormatBool(tc.name == "grep"))
		g.str("outputMode", "content")
		g.close()
		g.open("metrics")
		g.num("resultLength", int64(n))
		g.num("resultForLlmLength", int64(n))
		ctxMetrics()
		g.close()
	default: // view, edit, create
		g.open("properties")
		g.str("command", tc.name)
		g.str("options", `{"truncateBasedOn":"tokenCount","truncateStyle":"middle"}`)
		switch tc.name {
		case "create":
			g.str("inputs", `["path","file_text","command"]`)
		case "edit":
			g.str("inputs", `["path","old_str","new_str","command"]`)
		default:
			g.str("inputs", `["path","command"]`)
		}
		g.str("resolvedPathAgainstCwd", "false")
		g.str("fileExtension", `["`+g.ext+`"]`)
		if tc.name != "view" {
			g.str("codeBlocks", `[{"fileExt":"`+g.ext+`","languageId":"`+g.lang+`","linesAdded":`+
				strconv.Itoa(tc.added)+`,"linesRemoved":`+strconv.Itoa(tc.removed)+`}]`)
		} else {
			g.str("viewType", "file")
		}
		g.str("languageId", `["`+g.lang+`"]`)
		g.close()
		restricted := func() { g.lit("restrictedProperties", `{"filePaths":`+string(appendStr(nil, `["`+tc.path+`"]`))+`}`) }
		if complete {
			restricted()
		}
		g.open("metrics")
		g.num("resultLength", int64(n))
		g.num("resultForLlmLength", int64(n))
		if tc.name != "view" {
			g.num("linesAdded", int64(tc.added))
			g.num("linesRemoved", int64(tc.removed))
		}
		ctxMetrics()
		g.close()
		if !complete {
			restricted()
		}
	}
	g.close()
}

// outputSize draws the size of one tool output.
func (g *generator) outputSize() int {
	r := g.r
	n := r.spread(int64(g.o.ToolOutputKB) << 10)
	if r.chance(2) {
		n = int64(r.between(256<<10, maxOutputBytes))
	}
	return int(min(max(n, 64), maxOutputBytes))
}

// toolOutput writes the escaped output of tc into g.out and returns it.
func (g *generator) toolOutput(tc *toolCall, exit *int) []byte {
	r := g.r
	p := g.p
	out := g.out[:0]
	switch tc.name {
	case "bash":
		out = p.log.appendRun(out, r, g.outputSize())
		if r.chance(120) {
			*exit = 1
		}
		out = append(out, "<shellId: "...)
		out = appendInt(out, int64(g.shellID))
		out = append(out, " completed with exit code "...)
		out = appendInt(out, int64(*exit))
		out = append(out, '>')
		g.shellID++
	case "view":
		size := g.outputSize()
		from, line := r.intn(p.code.lines()), tc.viewFrom
		for len(out) < size {
			out = appendInt(out, int64(line))
			out = append(out, ". "...)
			out = append(out, p.code.line(from)...)
			from = (from + 1) % p.code.lines()
			line++
		}
	case "grep":
		size := g.outputSize()
		for len(out) < size {
			out = appendEscaped(out, pick(r, g.files))
			out = append(out, ':')
			out = appendInt(out, int64(r.between(1, 900)))
			out = append(out, ':')
			out = append(out, p.code.line(r.intn(p.code.lines()))...)
		}
	case "glob":
		size := g.outputSize() / 8
		for len(out) < size {
			out = appendEscaped(out, pick(r, g.dirs))
			out = append(out, '/')
			out = append(out, pick(r, nouns)...)
			out = append(out, '_')
			out = append(out, pick(r, verbs)...)
			out = append(out, g.ext...)
			out = append(out, '\\', 'n')
		}
	default:
		out = append(out, tc.text...)
	}
	g.out = out
	return out
}

// ---- subagents ----

// runSubagent runs the subagent a task tool call starts, from
// subagent.started to subagent.completed, and returns it.
func (g *generator) runSubagent(parent *agentState, tc *toolCall) *agentState {
	r := g.r
	model := pick(r, g.o.Models)
	sa := &agentState{
		agentID:        newUUID(r),
		ptc:            tc.id,
		source:         newUUID(r),
		model:          model,
		info:           lookupModel(model),
		sysTokens:      int64(r.between(1900, 2100)),
		toolTokens:     int64(r.between(1500, 1700)),
		availableTools: 7,
		subType:        tc.subType,
		subName:        tc.subName,
		startMs:        g.now,
	}
	sa.hookSess = sa.agentID
	sa.tally = g.acct.agent(sa.agentID, tc.subType, tc.subName)
	g.st.Subagents++

	g.tick(1, 3)
	g.begin("subagent.started")
	g.obj()
	g.str("toolCallId", tc.id)
	g.str("agentName", tc.subType)
	g.str("agentDisplayName", tc.subName)
	g.str("agentDescription", tc.subDesc)
	g.str("model", model)
	g.str("taskModelSource", "unset")
	g.str("modelSelectionSource", "agent_definition_default")
	g.boolean("resumable", false)
	g.str("agentType", tc.subType)
	g.str("executionMode", "sync")
	g.done()
	g.end(sa)

	g.tick(5, 20)
	g.begin("subagent.configured")
	g.obj()
	g.str("model", model)
	g.str("reasoningEffort", "low")
	g.boolean("multiTurn", true)
	g.done()
	g.end(sa)

	g.tick(0, 2)
	g.begin("subagent.selected")
	g.obj()
	tools := exploreTools
	if tc.subType == "explore" {
		g.str("agentName", "explore")
		g.str("agentDisplayName", "Explore Agent")
	} else {
		tools = generalTools
		g.str("agentName", tc.subType)
		g.str("agentDisplayName", "General-Purpose Agent")
	}
	g.key("tools")
	g.buf = append(g.buf, '[')
	for _, t := range tools {
		g.buf = appendStr(g.buf, t)
		g.buf = append(g.buf, ',')
	}
	g.trim()
	g.buf = append(g.buf, ']')
	g.done()
	g.end(sa)

	g.tick(0, 2)
	g.begin("session.model_change")
	g.obj()
	g.str("source", "agent")
	g.lit("contextTier", "null")
	g.str("newModel", model)
	g.str("reasoningEffort", "low")
	g.done()
	g.end(sa)

	g.hook(nil, "subagentStart", func() {
		g.str("sessionId", g.sessionID)
		g.str("transcriptPath", g.transcriptPath)
		g.str("agentId", sa.agentID)
		g.str("agentType", sa.subType)
		g.str("agentName", sa.subType)
		g.stamp()
		g.str("traceparent", g.traceparent(g.main.span))
		g.str("parentAgentId", g.sessionID)
		g.str("cwd", g.cwd)
	})

	sa.span = randHex(r, 16)
	sa.interactionID = newUUID(r)
	g.hook(sa, "userPromptSubmitted", func() {
		g.str("sessionId", sa.agentID)
		g.raw("prompt", tc.subPrompt)
		g.stamp()
		g.str("traceparent", g.traceparent(sa.span))
		g.subFields(sa)
		g.str("cwd", g.cwd)
	})
	g.userMessage(sa, tc.subPrompt)
	g.systemMessage(sa)
	sa.conv += int64(len(tc.subPrompt) / 4)

	turns := r.between(1, 4)
	for t := 0; t < turns; t++ {
		g.toolTurn(sa, "sub-agent", false)
	}
	sa.response = g.finalTurn(sa, "sub-agent")
	return sa
}

// finishSubagent writes what follows a subagent's last answer.
func (g *generator) finishSubagent(sa *agentState, turn string, response []byte) {
	stop := g.hookStart(nil, "subagentStop", func() {
		g.str("sessionId", g.sessionID)
		g.str("transcriptPath", g.transcriptPath)
		g.str("agentName", sa.subType)
		g.str("agentType", sa.subType)
		g.str("agentId", sa.agentID)
		g.str("stopReason", "end_turn")
		g.raw("response", response)
		g.boolean("stop_hook_active", false)
		g.stamp()
		g.str("traceparent", g.traceparent(g.main.span))
		g.str("parentAgentId", g.sessionID)
		g.str("cwd", g.cwd)
	})
	g.turnEnd(sa, turn)
	span := randHex(g.r, 16)
	g.hook(sa, "agentStop", func() {
		g.str("sessionId", sa.agentID)
		g.str("transcriptPath", g.transcriptPath)
		g.str("stopReason", "end_turn")
		g.boolean("stop_hook_active", false)
		g.stamp()
		g.str("traceparent", g.traceparent(span))
		g.subFields(sa)
		g.str("cwd", g.cwd)
	})
	g.hookEnd(nil, "subagentStop", stop)

	g.tick(0, 2)
	g.begin("subagent.completed")
	g.obj()
	g.str("toolCallId", sa.ptc)
	g.str("agentName", sa.subType)
	g.str("agentDisplayName", sa.subName)
	g.str("model", sa.model)
	g.str("firstDispatchedModel", sa.model)
	g.str("modelSelectionSource", "agent_definition_default")
	g.num("totalToolCalls", int64(sa.toolCalls))
	g.num("totalTokens", sa.tokens)
	g.num("durationMs", g.now-sa.startMs)
	g.done()
	g.end(sa)
}
