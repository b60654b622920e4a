package transcriptgen

import "strings"

// modelInfo is what the generator needs to know about a model.
type modelInfo struct {
	anthropic bool // caches with explicit cache writes; otherwise automatic prefix caching
	maxPrompt int64
	maxOutput int64
	// price is in milli-US$ per million tokens: fresh input, cached input,
	// output, cache write. One nano-AIU is 1e-11 US$, so a token costs
	// price*100 nano-AIU.
	price      [4]int64
	multiplier float64 // premium requests per user-initiated call
	reasoning  bool    // reports reasoning tokens on most calls
}

// The prices are list prices per 1M tokens as in testdata/copilot-cli's
// billed copies (claude-sonnet-4.6, gpt-5.3-codex, claude-opus-4.6) and
// comparable public list prices for the others. The multipliers are
// illustrative.
var modelTable = map[string]modelInfo{
	"claude-sonnet-4.6": {true, 128000, 32000, [4]int64{3000, 300, 15000, 3750}, 1, false},
	"claude-sonnet-4.5": {true, 128000, 32000, [4]int64{3000, 300, 15000, 3750}, 1, false},
	"claude-sonnet-4":   {true, 128000, 16000, [4]int64{3000, 300, 15000, 3750}, 1, false},
	"claude-opus-4.6":   {true, 128000, 32000, [4]int64{5000, 500, 25000, 6250}, 3, false},
	"claude-opus-4.5":   {true, 128000, 32000, [4]int64{5000, 500, 25000, 6250}, 3, false},
	"claude-haiku-4.5":  {true, 128000, 32000, [4]int64{1000, 100, 5000, 1250}, 0.33, false},
	"gpt-5.3-codex":     {false, 272000, 128000, [4]int64{1750, 175, 14000, 0}, 1, true},
	"gpt-5.2":           {false, 128000, 64000, [4]int64{1750, 175, 14000, 0}, 1, true},
	"gpt-5.1":           {false, 128000, 64000, [4]int64{1250, 125, 10000, 0}, 1, true},
	"gpt-5-mini":        {false, 128000, 64000, [4]int64{250, 25, 2000, 0}, 0, true},
	"gpt-4.1":           {false, 64000, 16384, [4]int64{2000, 500, 8000, 0}, 0, false},
}

func lookupModel(name string) modelInfo {
	if m, ok := modelTable[name]; ok {
		return m
	}
	if strings.HasPrefix(name, "claude") {
		return modelTable["claude-sonnet-4.6"]
	}
	return modelTable["gpt-5.1"]
}

// nanoAIU is the usage-based price of one call.
func (m modelInfo) nanoAIU(in, out, cacheRead, cacheWrite int64) int64 {
	fresh := in - cacheRead - cacheWrite
	return 100 * (fresh*m.price[0] + cacheRead*m.price[1] + out*m.price[2] + cacheWrite*m.price[3])
}

// ---- accounting ----

type agentTally struct {
	id, name, display string // id "main" for the main agent
	durMs, nano       int64
	models            []string
	by                map[string]*ModelTotals
}

func (a *agentTally) model(name string) *ModelTotals {
	m := a.by[name]
	if m == nil {
		m = &ModelTotals{}
		a.by[name] = m
		a.models = append(a.models, name)
	}
	return m
}

// accounting is the running sum of the usage records, in the order in
// which the CLI lists things (first use).
type accounting struct {
	main         *agentTally
	agents       []*agentTally // main first
	sources      []string
	seq          map[string]int64
	whole        agentTally
	userRequests int64
	cost         float64
	added        int64
	removed      int64
	files        []string
	fileSet      map[string]bool
	lastIn       int64
	lastOut      int64
}

func newAccounting() accounting {
	main := &agentTally{id: "main", by: map[string]*ModelTotals{}}
	return accounting{
		main:    main,
		agents:  []*agentTally{main},
		seq:     map[string]int64{},
		whole:   agentTally{by: map[string]*ModelTotals{}},
		fileSet: map[string]bool{},
	}
}

func (c *accounting) agent(id, name, display string) *agentTally {
	a := &agentTally{id: id, name: name, display: display, by: map[string]*ModelTotals{}}
	c.agents = append(c.agents, a)
	return a
}

// next returns the next accounting sequence of source.
func (c *accounting) next(source string) int64 {
	if _, ok := c.seq[source]; !ok {
		c.sources = append(c.sources, source)
	}
	c.seq[source]++
	return c.seq[source]
}

func (c *accounting) record(a *agentTally, model string, u ModelTotals, user bool) {
	c.whole.model(model).add(u)
	c.whole.durMs += u.APIDurationMs
	c.whole.nano += u.NanoAIU
	a.model(model).add(u)
	a.durMs += u.APIDurationMs
	a.nano += u.NanoAIU
	c.cost += u.Cost
	if user {
		c.userRequests++
	}
	if a == c.main {
		c.lastIn, c.lastOut = u.InputTokens, u.OutputTokens
	}
}

func (c *accounting) fileChange(path string, added, removed int) {
	c.added += int64(added)
	c.removed += int64(removed)
	if !c.fileSet[path] {
		c.fileSet[path] = true
		c.files = append(c.files, path)
	}
}

func (c *accounting) modelTotals() map[string]ModelTotals {
	out := make(map[string]ModelTotals, len(c.whole.by))
	for k, v := range c.whole.by {
		out[k] = *v
	}
	return out
}
