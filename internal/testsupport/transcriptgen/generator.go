package transcriptgen

import (
	"io"
	"strconv"
)

// agentState is the main agent or one subagent instance.
type agentState struct {
	agentID  string // envelope agentId; "" for the main agent
	ptc      string // parentToolCallId (subagents)
	source   string // usage.accounting.sourceSessionId
	model    string
	info     modelInfo
	tally    *agentTally
	hookSess string // sessionId in this agent's own hook payloads
	span     string // span id in the traceparent of this agent's own hooks

	sysTokens, toolTokens, conv, prevIn int64

	interactionID, userMsgID string
	turn                     int
	availableTools           int

	subType, subName string // subagents: agent type ("explore"), name ("explorer")
	toolCalls        int
	tokens           int64
	startMs          int64
	response         []byte
}

type toolCall struct {
	id, name         string
	args             []byte // JSON object
	intention, title string
	path             string // absolute path for view/edit/create
	perm             []byte // permissionRequest toolInput; nil: no permission asked
	shell            bool
	diff             []byte // escaped diff (edit, create)
	text             []byte // escaped fixed result (edit, create)
	added, removed   int
	viewFrom         int
	pattern          string

	subType, subName, subDesc string // task
	subPrompt                 []byte // escaped
}

type generator struct {
	o   Options
	r   *rng
	p   *pools
	w   io.Writer
	buf []byte
	err error
	st  Stats

	now       int64 // Unix ms
	prev      [36]byte
	hasPrev   bool
	lineStart int

	sessionID, cwd, branch, head, repo string
	transcriptPath                     string
	ext, lang                          string
	dirs                               []string
	files                              []string // absolute paths known to exist
	startMs                            int64

	main          *agentState
	traceID       string
	shellID       int
	acct          accounting
	out           []byte
	killed        bool
	forceTask     bool // the next main tool turn starts a subagent
	sysPromptSize int
}

func newGenerator(w io.Writer, o Options, buf []byte) *generator {
	g := &generator{o: o, r: newRNG(o.Seed), p: getPools(), w: w, buf: buf, acct: newAccounting()}
	g.st.SessionID = o.SessionID
	g.sessionID = o.SessionID
	return g
}

// ---- envelope ----

func (g *generator) tick(lo, hi int) { g.now += int64(g.r.between(lo, hi)) }

func (g *generator) begin(typ string) {
	g.lineStart = len(g.buf)
	g.buf = append(g.buf, `{"type":"`...)
	g.buf = append(g.buf, typ...)
	g.buf = append(g.buf, `","data":`...)
}

// end closes the event begun by begin; a is the subagent the event belongs
// to (envelope agentId), or nil.
func (g *generator) end(a *agentState) {
	b := g.buf
	if a != nil && a.agentID != "" {
		b = append(b, `,"agentId":"`...)
		b = append(b, a.agentID...)
		b = append(b, '"')
	}
	b = append(b, `,"id":"`...)
	idAt := len(b)
	b = appendUUID(b, g.r)
	b = append(b, `","timestamp":"`...)
	b = appendISO(b, g.now)
	b = append(b, `","parentId":`...)
	if g.hasPrev {
		b = append(b, '"')
		b = append(b, g.prev[:]...)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, "}\n"...)
	copy(g.prev[:], b[idAt:idAt+36])
	g.hasPrev = true
	n := len(b) - g.lineStart
	g.st.Events++
	g.st.Bytes += int64(n)
	if n > g.st.MaxLineBytes {
		g.st.MaxLineBytes = n
	}
	g.buf = b
	if len(g.buf) >= flushSize {
		g.flush()
	}
}

// errAbort stops the generation once the destination failed.
type errAbort struct{}

func (g *generator) flush() {
	if len(g.buf) == 0 {
		return
	}
	_, g.err = g.w.Write(g.buf)
	g.buf = g.buf[:0]
	if g.err != nil {
		panic(errAbort{})
	}
}

// ---- small JSON helpers on g.buf ----

func (g *generator) key(k string) {
	g.buf = append(g.buf, '"')
	g.buf = append(g.buf, k...)
	g.buf = append(g.buf, '"', ':')
}

func (g *generator) str(k, v string) {
	g.key(k)
	g.buf = appendStr(g.buf, v)
	g.buf = append(g.buf, ',')
}

// raw writes "k":"v" with v already escaped.
func (g *generator) raw(k string, v []byte) {
	g.key(k)
	g.buf = append(g.buf, '"')
	g.buf = append(g.buf, v...)
	g.buf = append(g.buf, '"', ',')
}

func (g *generator) num(k string, v int64) {
	g.key(k)
	g.buf = appendInt(g.buf, v)
	g.buf = append(g.buf, ',')
}

func (g *generator) f64(k string, v float64) {
	g.key(k)
	g.buf = appendF64(g.buf, v)
	g.buf = append(g.buf, ',')
}

func (g *generator) boolean(k string, v bool) {
	g.key(k)
	g.buf = appendBool(g.buf, v)
	g.buf = append(g.buf, ',')
}

// lit writes "k":v with v a JSON literal.
func (g *generator) lit(k, v string) {
	g.key(k)
	g.buf = append(g.buf, v...)
	g.buf = append(g.buf, ',')
}

func (g *generator) open(k string) {
	g.key(k)
	g.buf = append(g.buf, '{')
}

// close ends an object, dropping a trailing comma, and adds one.
func (g *generator) close() {
	g.trim()
	g.buf = append(g.buf, '}', ',')
}

func (g *generator) trim() {
	if n := len(g.buf); n > 0 && g.buf[n-1] == ',' {
		g.buf = g.buf[:n-1]
	}
}

// obj starts the data object; done ends it.
func (g *generator) obj()  { g.buf = append(g.buf, '{') }
func (g *generator) done() { g.trim(); g.buf = append(g.buf, '}') }

func (g *generator) traceparent(span string) string {
	return "00-" + g.traceID + "-" + span + "-01"
}

// ---- session ----

func (g *generator) session() {
	o := g.o
	r := g.r
	g.setupWorkspace()

	g.main = &agentState{
		source:         g.sessionID,
		model:          o.Models[0],
		info:           lookupModel(o.Models[0]),
		tally:          g.acct.main,
		hookSess:       g.sessionID,
		toolTokens:     int64(r.between(5600, 5800)),
		availableTools: 17,
	}
	g.main.sysTokens = int64(g.sysPromptSize / 4)

	leg1, leg2 := o.Interactions, 0
	if o.Resume {
		leg1 = max(1, (o.Interactions+1)/2)
		leg2 = max(1, o.Interactions-leg1)
	}

	g.sessionStart()
	for i := 0; i < leg1; i++ {
		src := ""
		if i == 0 {
			src = "new"
		}
		g.interaction(src, i == 0, !o.Resume && i == leg1-1, o.Killed && !o.Resume && i == leg1-1)
		if g.killed {
			return
		}
		g.now += int64(r.between(3000, 240000)) // the user reads and types
	}
	g.endLeg()
	if !o.Resume {
		return
	}
	g.now += int64(r.between(60000, 36000000))
	g.resume()
	for i := 0; i < leg2; i++ {
		src := ""
		if i == 0 {
			src = "resume"
		}
		g.interaction(src, false, i == leg2-1, o.Killed && i == leg2-1)
		if g.killed {
			return
		}
		g.now += int64(r.between(3000, 240000))
	}
	g.endLeg()
}

var (
	repos    = []string{"acme/payments-api", "acme/docs-site", "acme/web-console", "acme/ingest-pipeline", "acme/ledger-service", "acme/mobile-app"}
	branches = []string{"main", "feature/PAY-4411-refund-retries", "feature/PAY-4470-ledger-export", "chore/update-deps", "fix/webhook-timeouts", "feature/invoice-pdf", "refactor/store-layer"}
	users    = []string{"dev", "dana", "lee", "priya", "sam"}
	langs    = [][2]string{{".go", "go"}, {".py", "python"}, {".ts", "typescript"}}
)

func (g *generator) setupWorkspace() {
	r := g.r
	repo := pick(r, repos)
	home := "/home/" + pick(r, users)
	name := repo[len("acme/"):]
	g.cwd = home + "/src/" + name
	g.branch = pick(r, branches)
	g.head = randHex(r, 40)
	if r.chance(750) {
		g.repo = repo
	}
	g.transcriptPath = home + "/.copilot/session-state/" + g.sessionID + "/events.jsonl"
	l := langs[r.intn(len(langs))]
	g.ext, g.lang = l[0], l[1]
	for _, p := range pkgs {
		g.dirs = append(g.dirs, g.cwd+"/"+p)
	}
	for i := 0; i < 12; i++ {
		g.files = append(g.files, g.newFilePath())
	}
	g.sysPromptSize = g.o.SystemPromptKB << 10
	g.startMs = 1767225600000 + int64(r.intn(300*86400000)) // during 2026
	g.now = g.startMs
}

func (g *generator) newFilePath() string {
	return pick(g.r, g.dirs) + "/" + pick(g.r, nouns) + "_" + pick(g.r, verbs) + g.ext
}

func (g *generator) context() {
	g.open("context")
	g.str("cwd", g.cwd)
	g.str("gitRoot", g.cwd)
	if g.repo != "" {
		g.str("repository", g.repo)
		g.str("hostType", "github")
		g.str("repositoryHost", "github.com")
	}
	g.str("branch", g.branch)
	g.str("headCommit", g.head)
	g.close()
}

func (g *generator) sessionStart() {
	g.now = g.startMs + int64(g.r.between(15, 40))
	g.begin("session.start")
	g.obj()
	g.str("sessionId", g.sessionID)
	g.num("version", 1)
	g.str("producer", "copilot-agent")
	g.str("copilotVersion", "1.0.102")
	g.key("startTime")
	g.buf = append(g.buf, '"')
	g.buf = appendISO(g.buf, g.startMs)
	g.buf = append(g.buf, '"', ',')
	g.str("selectedModel", g.main.model)
	g.lit("contextTier", "null")
	g.context()
	g.boolean("alreadyInUse", false)
	g.boolean("remoteSteerable", false)
	g.done()
	g.end(nil)
}

func (g *generator) resume() {
	events, size := g.st.Events, g.st.Bytes
	g.begin("session.resume")
	g.obj()
	g.key("resumeTime")
	g.buf = append(g.buf, '"')
	g.buf = appendISO(g.buf, g.now)
	g.buf = append(g.buf, '"', ',')
	g.num("eventCount", int64(events))
	g.num("eventsFileSizeBytes", size)
	g.str("selectedModel", g.main.model)
	g.lit("contextTier", "null")
	g.lit("sessionLimits", "null")
	g.context()
	g.boolean("alreadyInUse", false)
	g.boolean("remoteSteerable", false)
	g.boolean("sessionWasActive", false)
	g.done()
	g.end(nil)
}

// ---- hooks ----

// hookStart writes hook.start; sub is the subagent whose own hook this is
// (envelope agentId and parentToolCallId), or nil.
func (g *generator) hookStart(sub *agentState, typ string, input func()) string {
	g.tick(1, 6)
	id := newUUID(g.r)
	g.begin("hook.start")
	g.obj()
	g.str("hookInvocationId", id)
	g.str("hookType", typ)
	g.key("input")
	g.buf = append(g.buf, '{')
	input()
	g.close()
	if sub != nil {
		g.str("parentToolCallId", sub.ptc)
	}
	g.done()
	g.end(sub)
	return id
}

func (g *generator) hookEnd(sub *agentState, typ, id string) {
	g.tick(2, 8)
	g.begin("hook.end")
	g.obj()
	g.str("hookInvocationId", id)
	g.str("hookType", typ)
	g.boolean("success", true)
	if sub != nil {
		g.str("parentToolCallId", sub.ptc)
	}
	g.done()
	g.end(sub)
}

func (g *generator) hook(sub *agentState, typ string, input func()) {
	g.hookEnd(sub, typ, g.hookStart(sub, typ, input))
}

func (g *generator) stamp() { g.num("timestamp", g.now) }

// subFields are the members a subagent adds to hook payloads.
func (g *generator) subFields(a *agentState) {
	g.str("agentId", a.agentID)
	g.str("agentType", a.subType)
	g.str("parentAgentId", g.sessionID)
}

// ---- interactions ----

var promptTemplates = []string{
	"Fix the failing test for %s retries in the %s package",
	"Add exponential backoff to the %s client and cover it with tests (%s)",
	"Why does the %s export return an empty %s? Investigate and fix it.",
	"Refactor the %s store so that %s writes happen in one transaction",
	"Review the recent changes to %s handling and look for bugs around %s",
	"Update the docs for the %s API and regenerate the %s examples",
	"continue",
	"The build fails on CI with this error, can you take a look at %s and %s?",
}

func (g *generator) userPrompt(first bool) []byte {
	r := g.r
	t := pick(r, promptTemplates)
	for first && t == "continue" {
		t = pick(r, promptTemplates)
	}
	s := make([]byte, 0, 256)
	for i := 0; i < len(t); i++ {
		if t[i] == '%' && i+1 < len(t) && t[i+1] == 's' {
			s = append(s, pick(r, nouns)...)
			i++
			continue
		}
		s = append(s, t[i])
	}
	b := appendEscaped(nil, string(s))
	if r.chance(80) { // a pasted log
		b = append(b, `:\n\n`...)
		b = g.p.log.appendRun(b, r, int(r.spread(3000)))
	}
	return b
}

func (g *generator) maybeSwitchModel() {
	a := g.main
	if len(g.o.Models) < 2 || !g.r.chance(250) {
		return
	}
	m := pick(g.r, g.o.Models)
	if m == a.model {
		return
	}
	g.tick(100, 5000)
	g.begin("session.model_change")
	g.obj()
	g.str("previousModel", a.model)
	g.str("newModel", m)
	g.str("source", "user")
	g.lit("contextTier", "null")
	g.done()
	g.end(nil)
	a.model, a.info = m, lookupModel(m)
	a.prevIn = 0 // a new model starts with a cold cache
}

// interaction writes one user prompt and the agent's work on it; last
// marks the last interaction of the session, kill one that is cut short.
func (g *generator) interaction(startSource string, withSystem, last, kill bool) {
	r := g.r
	a := g.main
	if startSource == "" {
		g.maybeSwitchModel()
	}
	prompt := g.userPrompt(startSource == "new")
	if startSource != "" {
		g.hook(nil, "sessionStart", func() {
			g.str("source", startSource)
			g.raw("initialPrompt", prompt)
			g.str("sessionId", g.sessionID)
			g.stamp()
			g.str("cwd", g.cwd)
		})
	}
	g.traceID = randHex(r, 32)
	a.span = randHex(r, 16)
	a.interactionID = newUUID(r)
	a.turn = 0
	g.hook(nil, "userPromptSubmitted", func() {
		g.str("sessionId", g.sessionID)
		g.raw("prompt", prompt)
		g.stamp()
		g.str("traceparent", g.traceparent(a.span))
		g.str("cwd", g.cwd)
	})
	g.userMessage(a, prompt)
	if withSystem {
		g.systemMessage(a)
	}
	a.conv += int64(len(prompt) / 4)

	// Most prompts take a few turns of tool calls; some are answered at once.
	turns := r.intn(3) + r.intn(3)
	if kill {
		turns = max(turns, 1)
	}
	// With Subagents, the last interaction runs one if none ran yet.
	g.forceTask = g.o.Subagents && g.st.Subagents == 0 && last
	if g.forceTask {
		turns = max(turns, 1)
		if kill {
			turns = max(turns, 2)
		}
	}
	initiator := "user"
	for t := 0; t < turns; t++ {
		g.toolTurn(a, initiator, kill && t == turns-1)
		if g.killed {
			return
		}
		initiator = "agent"
	}
	g.finalTurn(a, initiator)
	g.hook(nil, "agentStop", func() {
		g.str("sessionId", g.sessionID)
		g.str("transcriptPath", g.transcriptPath)
		g.str("stopReason", "end_turn")
		g.boolean("stop_hook_active", false)
		g.stamp()
		g.str("traceparent", g.traceparent(a.span))
		g.str("cwd", g.cwd)
	})
}

func (g *generator) userMessage(a *agentState, prompt []byte) {
	g.tick(1, 4)
	a.userMsgID = newUUID(g.r)
	g.begin("user.message")
	g.obj()
	g.raw("content", prompt)
	g.key("transformedContent")
	g.buf = append(g.buf, `"<current_datetime>`...)
	g.buf = appendISO(g.buf, g.now)
	g.buf = append(g.buf[:len(g.buf)-1], "+00:00</current_datetime>\\n\\n"...) // drop the Z
	g.buf = append(g.buf, prompt...)
	g.buf = append(g.buf, '"', ',')
	if a.agentID != "" {
		g.str("source", "agent-"+g.sessionID)
	}
	g.str("messageId", a.userMsgID)
	g.lit("supportedNativeDocumentMimeTypes", "[]")
	g.str("delivery", "idle")
	g.str("interactionId", a.interactionID)
	g.str("turnId", "0")
	g.str("parentAgentTaskId", newUUID(g.r))
	g.done()
	g.end(a)
}

const sysPromptSeed = 0x5157

func (g *generator) systemMessage(a *agentState) {
	g.tick(1, 4)
	g.begin("system.message")
	g.obj()
	g.str("role", "system")
	if a.agentID == "" {
		g.key("content")
		g.buf = append(g.buf, '"')
		// The same prompt in every session, as the CLI's is, with the
		// environment at the end.
		g.buf = g.p.prose.appendRun(g.buf, newRNG(sysPromptSeed), g.sysPromptSize-300)
		g.buf = appendEscaped(g.buf, "<environment_context>\nCurrent working directory: "+g.cwd+
			"\nGit branch: "+g.branch+"\nOperating system: Linux\n</environment_context>")
		g.buf = append(g.buf, '"', ',')
		g.metadata()
		g.str("interactionId", a.interactionID)
	} else {
		static := g.p.prose.appendRun(nil, newRNG(sysPromptSeed+1), 7400)
		dynamic := appendEscaped(nil, "You are the "+a.subName+" subagent ("+a.subType+"). Work in "+g.cwd+
			" on branch "+g.branch+". Report what you find concisely; do not modify files.")
		g.key("content")
		g.buf = append(g.buf, '"')
		g.buf = append(g.buf, static...)
		g.buf = append(g.buf, `\n\n`...)
		g.buf = append(g.buf, dynamic...)
		g.buf = append(g.buf, '"', ',')
		g.key("contentBlocks")
		g.buf = append(g.buf, `[{"content":"`...)
		g.buf = append(g.buf, static...)
		g.buf = append(g.buf, `","isStatic":true},{"content":"`...)
		g.buf = append(g.buf, dynamic...)
		g.buf = append(g.buf, `"}],`...)
		g.str("interactionId", a.interactionID)
		g.metadata()
	}
	g.done()
	g.end(a)
}

func (g *generator) metadata() {
	g.lit("metadata", `{"variables":{"gitCommitTrailer":{"sessionId":null,"clientName":"github/cli","coauthorEnabled":true}}}`)
}

// ---- turns ----

func (g *generator) turnStart(a *agentState) string {
	g.tick(1, 4)
	id := strconv.Itoa(a.turn)
	a.turn++
	g.begin("assistant.turn_start")
	g.obj()
	g.str("turnId", id)
	g.str("interactionId", a.interactionID)
	if a.ptc != "" {
		g.str("parentToolCallId", a.ptc)
	}
	g.done()
	g.end(a)
	return id
}

func (g *generator) turnEnd(a *agentState, id string) {
	g.tick(1, 4)
	g.begin("assistant.turn_end")
	g.obj()
	g.str("turnId", id)
	if a.ptc != "" {
		g.str("parentToolCallId", a.ptc)
	}
	g.done()
	g.end(a)
}

func (g *generator) errorOccurred(a *agentState) {
	g.tick(500, 3000)
	g.hook(nil, "errorOccurred", func() {
		g.str("sessionId", g.sessionID)
		g.lit("error", `{"name":"Error","message":"{\"message\":\"upstream error\",\"type\":\"server_error\"}","stack":"Error: {\"message\":\"upstream error\",\"type\":\"server_error\"}\n   0: <unknown>\n   1: <unknown>\n   2: <unknown>\n   3: start_thread\n             at ./nptl/pthread_create.c:442:8\n   4: clone3\n             at ./misc/../sysdeps/unix/sysv/linux/x86_64/clone3.S:81:0\n"}`)
		g.str("errorContext", "model_call")
		g.boolean("recoverable", true)
		g.stamp()
		g.str("traceparent", g.traceparent(a.span))
		g.str("cwd", g.cwd)
	})
}

func (g *generator) toolTurn(a *agentState, initiator string, kill bool) {
	turn := g.turnStart(a)
	if a.agentID == "" && g.r.chance(8) {
		g.errorOccurred(a)
	}
	tools := g.planTools(a)
	apiCallID := g.modelCall(a, initiator, tools, false)
	var content []byte
	if g.r.chance(300) {
		content = g.p.prose.appendRun(nil, g.r, g.r.between(40, 400))
	}
	g.assistantMessage(a, turn, apiCallID, content, tools)
	for i, tc := range tools {
		if kill && i == 0 {
			g.toolStart(a, tc, turn)
			g.preToolUse(a, tc)
			g.killed = true
			return
		}
		g.execTool(a, tc, turn)
	}
	g.turnEnd(a, turn)
}

func (g *generator) finalTurn(a *agentState, initiator string) []byte {
	turn := g.turnStart(a)
	apiCallID := g.modelCall(a, initiator, nil, true)
	content := g.p.prose.appendRun(nil, g.r, int(g.r.spread(1200)))
	g.assistantMessage(a, turn, apiCallID, content, nil)
	if a.agentID == "" {
		g.turnEnd(a, turn)
	} else {
		g.finishSubagent(a, turn, content)
	}
	return content
}

func (g *generator) assistantMessage(a *agentState, turn, apiCallID string, content []byte, tools []*toolCall) {
	g.tick(2, 8)
	g.begin("assistant.message")
	g.obj()
	g.str("messageId", newUUID(g.r))
	g.str("originatingMessageId", a.userMsgID)
	g.str("model", a.model)
	g.raw("content", content)
	g.key("toolRequests")
	g.buf = append(g.buf, '[')
	for _, tc := range tools {
		g.buf = append(g.buf, '{')
		g.str("toolCallId", tc.id)
		g.str("name", tc.name)
		g.key("arguments")
		g.buf = append(g.buf, tc.args...)
		g.buf = append(g.buf, ',')
		g.str("type", "function")
		g.str("intentionSummary", tc.intention)
		if tc.title != "" {
			g.str("toolTitle", tc.title)
		}
		g.close()
	}
	g.trim()
	g.buf = append(g.buf, ']', ',')
	g.str("interactionId", a.interactionID)
	g.str("turnId", turn)
	g.boolean("rte", false)
	g.str("apiCallId", apiCallID)
	if a.ptc != "" {
		g.str("parentToolCallId", a.ptc)
	}
	g.done()
	g.end(a)
	a.conv += int64(len(content)/4 + 20)
	for _, tc := range tools {
		a.conv += int64(len(tc.args) / 4)
	}
}

// modelCall writes the usage record of one model call and returns its
// apiCallId.
func (g *generator) modelCall(a *agentState, initiator string, tools []*toolCall, final bool) string {
	r := g.r
	m := a.info
	static := a.sysTokens + a.toolTokens
	if static+a.conv > m.maxPrompt*9/10 {
		a.conv /= 4 // the CLI compacts the conversation
	}
	in := static + a.conv
	if in < a.prevIn {
		a.prevIn = static // compaction: only the static prefix is cached
	}
	var cr, cw int64
	if m.anthropic {
		fresh := int64(r.between(3, 60))
		switch {
		case a.prevIn > 0:
			cr = min(a.prevIn, in-fresh)
		case r.chance(600):
			cr = static
		}
		cw = max(in-cr-fresh, 0)
	} else {
		switch {
		case a.prevIn > 0:
			cr = a.prevIn / 128 * 128
		case r.chance(500):
			cr = static / 128 * 128
		}
		cr = min(cr, in)
	}
	var out int64
	if final {
		out = 40 + r.spread(350)
	} else {
		out = 15 + int64(len(tools))*r.spread(90)
	}
	out = min(out, m.maxOutput)
	var rs int64
	switch {
	case m.reasoning:
		rs = out * int64(r.intn(61)) / 100
	case m.anthropic && r.chance(300):
		rs = out * int64(r.between(10, 40)) / 100
	}
	a.prevIn = in
	a.conv += out

	ttft := int64(r.between(250000, 2500000)) + in*int64(r.between(2, 8)) // µs
	itl := int64(r.between(4000, 30000))                                  // µs per token
	dur := (ttft + out*itl) / 1000
	g.now += dur

	var cost float64
	var nano int64
	if g.o.Billed {
		if initiator == "user" {
			cost = m.multiplier
		}
		nano = m.nanoAIU(in, out, cr, cw)
	}
	apiCallID := "chatcmpl-" + randHex(r, 10)
	seq := g.acct.next(a.source)
	u := ModelTotals{Requests: 1, InputTokens: in, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw,
		ReasoningTokens: rs, NanoAIU: nano, Cost: cost, APIDurationMs: dur}
	g.acct.record(a.tally, a.model, u, initiator == "user")
	g.st.UsageRecords++
	if initiator == "user" {
		g.st.UserRequests++
	}
	a.tokens += in + out

	g.begin("session.usage_record")
	g.buf = append(g.buf, `{"usage":{`...)
	g.str("model", a.model)
	g.str("modelDisplayName", a.model)
	g.num("inputTokens", in)
	g.num("outputTokens", out)
	g.num("cacheReadTokens", cr)
	g.num("cacheWriteTokens", cw)
	g.num("reasoningTokens", rs)
	g.f64("cost", cost)
	g.num("duration", dur)
	g.f64("timeToFirstTokenMs", float64(ttft)/1000)
	g.f64("outputTtftMs", float64(ttft+int64(r.between(10, 90)))/1000)
	g.f64("interTokenLatencyMs", float64(itl)/1000)
	g.str("initiator", initiator)
	if a.agentID == "" {
		g.str("interactionType", "conversation-agent")
	} else {
		g.str("interactionType", "conversation-subagent")
	}
	g.boolean("isByok", !g.o.Billed)
	if !g.o.Billed {
		g.str("byokKind", "local_user")
		g.str("modelProvider", "other")
		g.str("providerType", "openai")
	}
	g.boolean("isAuto", false)
	g.num("maxPromptTokens", m.maxPrompt)
	g.num("maxOutputTokens", m.maxOutput)
	g.str("transport", "http")
	body := in*int64(r.between(38, 46))/10 + int64(r.intn(500))
	g.num("requestBodyBytes", body)
	g.num("requestBodyWireBytes", body)
	g.str("requestBodyEncoding", "identity")
	g.str("apiCallId", apiCallID)
	g.boolean("rte", false)
	g.str("apiEndpoint", "/chat/completions")
	writeAccounting := func() {
		g.key("accounting")
		g.buf = append(g.buf, `{"sourceSessionId":"`...)
		g.buf = append(g.buf, a.source...)
		g.buf = append(g.buf, `","sequence":`...)
		g.buf = appendInt(g.buf, seq)
		g.buf = append(g.buf, `,"usageId":"`...)
		g.buf = append(g.buf, apiCallID...)
		g.buf = append(g.buf, `"},`...)
	}
	credits := "unavailable"
	if g.o.Billed {
		credits = "available"
	}
	if a.agentID == "" {
		writeAccounting()
		g.str("aiCreditsStatus", credits)
	} else {
		g.str("parentToolCallId", a.ptc)
		g.str("aiCreditsStatus", credits)
		g.str("reasoningEffort", "low")
	}
	g.num("availableToolCount", int64(a.availableTools))
	g.num("toolTokenCount", a.toolTokens+50)
	g.num("customToolCallCount", 0)
	g.num("unmatchedToolResultCount", 0)
	g.num("orphanToolCallCount", 0)
	g.str("frontierSource", "estimated")
	g.boolean("cacheDetailsReported", true)
	g.num("numToolCalls", int64(len(tools)))
	g.key("toolCounts")
	g.buf = append(g.buf, '{')
	for i, tc := range tools {
		dup := false
		for _, p := range tools[:i] {
			dup = dup || p.name == tc.name
		}
		if dup {
			continue
		}
		n := 0
		for _, o := range tools {
			if o.name == tc.name {
				n++
			}
		}
		g.num(tc.name, int64(n))
	}
	g.close()
	if final {
		g.str("finishReason", "stop")
	} else {
		g.str("finishReason", "tool_calls")
	}
	g.boolean("contentFilterTriggered", false)
	if a.agentID != "" {
		writeAccounting()
	}
	if g.o.Billed {
		g.key("copilotUsage")
		g.buf = append(g.buf, `{"model":"`...)
		g.buf = append(g.buf, a.model...)
		g.buf = append(g.buf, `","totalNanoAiu":`...)
		g.buf = appendInt(g.buf, nano)
		g.buf = append(g.buf, '}')
	}
	g.trim()
	g.buf = append(g.buf, '}', '}')
	g.end(a)
	return apiCallID
}

// ---- leg end ----

func (g *generator) endLeg() {
	a := g.main
	g.hook(nil, "sessionEnd", func() {
		g.str("reason", "complete")
		g.str("sessionId", g.sessionID)
		g.stamp()
		g.str("traceparent", g.traceparent(a.span))
		g.str("cwd", g.cwd)
	})
	g.tick(10, 40)
	g.shutdown()
}

func (g *generator) usage(m *ModelTotals) {
	g.open("usage")
	g.num("inputTokens", m.InputTokens)
	g.num("outputTokens", m.OutputTokens)
	g.num("cacheReadTokens", m.CacheReadTokens)
	g.num("cacheWriteTokens", m.CacheWriteTokens)
	g.num("reasoningTokens", m.ReasoningTokens)
	g.close()
}

// metric writes one model's metrics; js selects the flat (JavaScript)
// number style, credits adds aiCreditsStatus.
func (g *generator) metric(m *ModelTotals, js bool, credits string) {
	g.buf = append(g.buf, `{"requests":{"count":`...)
	g.buf = appendInt(g.buf, m.Requests)
	g.buf = append(g.buf, `,"cost":`...)
	if js {
		g.buf = appendJS(g.buf, m.Cost)
	} else {
		g.buf = appendF64(g.buf, m.Cost)
	}
	g.buf = append(g.buf, "},"...)
	g.usage(m)
	g.key("totalNanoAiu")
	if js {
		g.buf = appendInt(g.buf, m.NanoAIU)
	} else {
		g.buf = appendF64(g.buf, float64(m.NanoAIU))
	}
	g.buf = append(g.buf, ',')
	if credits != "" {
		g.str("aiCreditsStatus", credits)
	}
	g.close()
}

func (g *generator) modelMetrics(t *agentTally, js bool, credits string) {
	g.open("modelMetrics")
	for _, name := range t.models {
		g.key(name)
		g.metric(t.by[name], js, credits)
	}
	g.close()
}

func (g *generator) agentMetrics() {
	g.open("agentMetrics")
	for _, a := range g.acct.agents {
		if len(a.models) == 0 {
			continue
		}
		g.open(a.id)
		if a.id != "main" {
			g.str("agentName", a.name)
			g.str("agentDisplayName", a.display)
		}
		g.num("totalApiDurationMs", a.durMs)
		g.f64("totalNanoAiu", float64(a.nano))
		g.modelMetrics(a, false, "")
		g.close()
	}
	g.close()
}

func (g *generator) providerModelMetrics(credits string) {
	g.key("providerModelMetrics")
	g.buf = append(g.buf, '[')
	for _, name := range g.acct.whole.models {
		g.buf = append(g.buf, `{"provider":null,`...)
		g.str("modelId", name)
		g.key("metrics")
		g.metric(g.acct.whole.by[name], false, credits)
		g.str("modelDisplayName", name)
		g.close()
	}
	g.trim()
	g.buf = append(g.buf, ']', ',')
}

func (g *generator) shutdown() {
	c := &g.acct
	a := g.main
	credits := "unavailable"
	if g.o.Billed {
		credits = "available"
	}
	size := g.st.Bytes
	g.begin("session.shutdown")
	g.obj()
	g.open("accountingSnapshot")
	g.f64("totalPremiumRequestCost", c.cost)
	g.num("totalUserRequests", c.userRequests)
	g.f64("totalNanoAiu", float64(c.whole.nano))
	g.str("aiCreditsStatus", credits)
	g.num("totalApiDurationMs", c.whole.durMs)
	g.key("sessionStartTime")
	g.buf = append(g.buf, '"')
	g.buf = appendISO(g.buf, g.startMs)
	g.buf = append(g.buf, '"', ',')
	g.open("codeChanges")
	g.num("linesAdded", c.added)
	g.num("linesRemoved", c.removed)
	g.num("filesModifiedCount", int64(len(c.files)))
	g.filesModified()
	g.close()
	g.modelMetrics(&c.whole, false, credits)
	g.agentMetrics()
	g.providerModelMetrics(credits)
	g.str("currentModel", a.model)
	g.num("lastCallInputTokens", c.lastIn)
	g.num("lastCallOutputTokens", c.lastOut)
	g.close()

	g.providerModelMetrics(credits)
	g.open("usageAccountingWatermarks")
	for _, s := range c.sources {
		g.num(s, c.seq[s])
	}
	g.close()
	g.str("shutdownType", "routine")
	g.key("totalPremiumRequests")
	g.buf = appendJS(g.buf, c.cost)
	g.buf = append(g.buf, ',')
	g.num("totalNanoAiu", c.whole.nano)
	g.num("totalApiDurationMs", c.whole.durMs)
	g.num("sessionStartTime", g.startMs)
	g.num("eventsFileSizeBytes", size)
	g.open("codeChanges")
	g.num("linesAdded", c.added)
	g.num("linesRemoved", c.removed)
	g.filesModified()
	g.close()
	g.modelMetrics(&c.whole, true, "")
	g.agentMetrics()
	g.str("currentModel", a.model)
	sys := a.sysTokens
	conv := min(a.conv, a.info.maxPrompt)
	g.num("currentTokens", sys+conv+a.toolTokens)
	g.num("systemTokens", sys)
	g.num("conversationTokens", conv)
	g.num("toolDefinitionsTokens", a.toolTokens)
	g.done()
	g.end(nil)
	g.st.Shutdowns++
}

func (g *generator) filesModified() {
	g.key("filesModified")
	g.buf = append(g.buf, '[')
	for _, f := range g.acct.files {
		g.buf = appendStr(g.buf, f)
		g.buf = append(g.buf, ',')
	}
	g.trim()
	g.buf = append(g.buf, ']', ',')
}
