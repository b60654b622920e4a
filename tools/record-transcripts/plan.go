package main

import (
	"fmt"
	"strings"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeprovider"
)

// stop says how a leg ends.
type stop int

const (
	stopNone      stop = iota // the CLI finishes on its own
	stopKill                  // SIGKILL once a tool is running
	stopInterrupt             // SIGINT once a tool is running
)

func (s stop) String() string {
	switch s {
	case stopKill:
		return "killed (SIGKILL)"
	case stopInterrupt:
		return "interrupted (SIGINT)"
	}
	return ""
}

// leg is one run of the CLI.
type leg struct {
	Version  string
	Scenario string
	Resume   bool // resume the session of the previous leg
	Stop     stop
}

// prompt is the -p argument of the leg.
func (l leg) prompt() string {
	if l.Resume {
		return "continue [scenario:" + l.Scenario + "]"
	}
	return "Do the task [scenario:" + l.Scenario + "]"
}

// caseDef is one recorded session.
type caseDef struct {
	Name string
	Legs []leg
}

func (c caseDef) describe() string {
	var parts []string
	for _, l := range c.Legs {
		s := l.Version + " " + l.Scenario
		if l.Resume {
			s += " (resumed)"
		}
		if l.Stop != stopNone {
			s += " " + l.Stop.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " -> ")
}

// plan is every case the recorder knows, in recording order.
func plan() []caseDef {
	var cs []caseDef
	add := func(name string, legs ...leg) { cs = append(cs, caseDef{Name: name, Legs: legs}) }
	const (
		multi     = fakeprovider.ScenarioMulti
		cont      = fakeprovider.ScenarioContinue
		slow      = fakeprovider.ScenarioSlow
		edit      = fakeprovider.ScenarioEdit
		subagent  = fakeprovider.ScenarioSubagent
		flaky     = fakeprovider.ScenarioFlaky
		ratelimit = fakeprovider.ScenarioRateLimit
	)
	for _, v := range []string{"1.0.20", "1.0.40", "1.0.60", "1.0.65", "1.0.66-2", "1.0.66", "1.0.80", "1.0.92", "1.0.102"} {
		add(v+"-resumed", leg{Version: v, Scenario: multi}, leg{Version: v, Scenario: cont, Resume: true})
	}
	for _, v := range []string{"1.0.60", "1.0.92", "1.0.102"} {
		add(v+"-subagent", leg{Version: v, Scenario: subagent})
		add(v+"-edit", leg{Version: v, Scenario: edit})
	}
	for _, v := range []string{"1.0.80", "1.0.102"} {
		add(v+"-flaky", leg{Version: v, Scenario: flaky})
		add(v+"-ratelimit", leg{Version: v, Scenario: ratelimit})
	}
	for _, v := range []string{"1.0.60", "1.0.92", "1.0.102"} {
		add(v+"-killed", leg{Version: v, Scenario: slow, Stop: stopKill})
	}
	add("1.0.102-killed-resumed",
		leg{Version: "1.0.102", Scenario: slow, Stop: stopKill},
		leg{Version: "1.0.102", Scenario: cont, Resume: true})
	for _, p := range [][2]string{{"1.0.60", "1.0.92"}, {"1.0.60", "1.0.102"}, {"1.0.65", "1.0.66"}, {"1.0.92", "1.0.102"}} {
		add(fmt.Sprintf("mixed-%s-to-%s", p[0], p[1]),
			leg{Version: p[0], Scenario: multi},
			leg{Version: p[1], Scenario: cont, Resume: true})
	}
	add("1.0.102-interrupted", leg{Version: "1.0.102", Scenario: slow, Stop: stopInterrupt})
	return cs
}

// storePlan is the cases recorded with their session store
// (testdata/copilot-cli/stores): a resumed session for every version the
// plan runs (1.0.20 keeps no store; 1.0.40 to 1.0.66 keep one without
// per-call usage), a subagent for the versions whose store has
// assistant_usage_events (1.0.80 on), and a session started by a CLI whose
// store has no usage table and resumed by one whose store has it.
func storePlan() []caseDef {
	var cs []caseDef
	add := func(name string, legs ...leg) { cs = append(cs, caseDef{Name: name, Legs: legs}) }
	const (
		multi    = fakeprovider.ScenarioMulti
		cont     = fakeprovider.ScenarioContinue
		subagent = fakeprovider.ScenarioSubagent
	)
	for _, v := range []string{"1.0.20", "1.0.40", "1.0.60", "1.0.65", "1.0.66", "1.0.80", "1.0.92", "1.0.102"} {
		add(v+"-resumed", leg{Version: v, Scenario: multi}, leg{Version: v, Scenario: cont, Resume: true})
	}
	for _, v := range []string{"1.0.80", "1.0.92", "1.0.102"} {
		add(v+"-subagent", leg{Version: v, Scenario: subagent})
	}
	add("mixed-1.0.66-to-1.0.102", leg{Version: "1.0.66", Scenario: multi}, leg{Version: "1.0.102", Scenario: cont, Resume: true})
	return cs
}
