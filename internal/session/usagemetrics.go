package session

// UsageMetrics is a session's usage in the shape of the CLI's own
// UsageGetMetricsResult (its usage.getMetrics API and the accountingSnapshot
// of a 1.0.102 shutdown), for the receiver's live usage query. Token
// details, provider breakdowns and the list of modified files, which the
// transcript does not give per call, are left out.
type UsageMetrics struct {
	TotalPremiumRequestCost float64                      `json:"totalPremiumRequestCost"`
	TotalUserRequests       int64                        `json:"totalUserRequests"`
	TotalNanoAIU            int64                        `json:"totalNanoAiu"`
	TotalAPIDurationMs      int64                        `json:"totalApiDurationMs"`
	SessionStartTime        string                       `json:"sessionStartTime"`
	CodeChanges             UsageMetricsCodeChanges      `json:"codeChanges"`
	ModelMetrics            map[string]UsageMetricsModel `json:"modelMetrics"`
	AgentMetrics            map[string]UsageMetricsAgent `json:"agentMetrics"`
	CurrentModel            string                       `json:"currentModel,omitempty"`
	LastCallInputTokens     int64                        `json:"lastCallInputTokens"`
	LastCallOutputTokens    int64                        `json:"lastCallOutputTokens"`
}

// UsageMetricsCodeChanges is the code a session changed.
type UsageMetricsCodeChanges struct {
	LinesAdded         int64    `json:"linesAdded"`
	LinesRemoved       int64    `json:"linesRemoved"`
	FilesModifiedCount int64    `json:"filesModifiedCount"`
	FilesModified      []string `json:"filesModified"`
}

// UsageMetricsModel is one model's usage.
type UsageMetricsModel struct {
	Requests     UsageMetricsRequests `json:"requests"`
	Usage        TokenSummary         `json:"usage"`
	TotalNanoAIU int64                `json:"totalNanoAiu"`
}

// UsageMetricsRequests counts a model's calls; Cost is premium requests.
type UsageMetricsRequests struct {
	Count int64   `json:"count"`
	Cost  float64 `json:"cost"`
}

// UsageMetricsAgent is one agent instance's usage.
type UsageMetricsAgent struct {
	AgentName          string                       `json:"agentName,omitempty"`
	TotalAPIDurationMs int64                        `json:"totalApiDurationMs"`
	TotalNanoAIU       int64                        `json:"totalNanoAiu"`
	ModelMetrics       map[string]UsageMetricsModel `json:"modelMetrics"`
}

func (m *UsageMetricsModel) add(u Usage) {
	m.Requests.Count += u.Requests
	m.Requests.Cost += u.PremiumCost
	m.Usage.InputTokens += u.InputTokens
	m.Usage.OutputTokens += u.OutputTokens
	m.Usage.CacheReadTokens += u.CacheReadTokens
	m.Usage.CacheWriteTokens += u.CacheWriteTokens
	m.Usage.ReasoningTokens += u.ReasoningTokens
	m.TotalNanoAIU += u.NanoAIU
}

// Metrics is the session's usage so far in the UsageGetMetricsResult shape.
func (t *Tracker) Metrics() UsageMetrics { return t.metrics(t.Summary()) }

// metrics is Metrics of the tracker's Summary s, which a caller that has
// it need not compute twice.
func (t *Tracker) metrics(s UsageSummary) UsageMetrics {
	m := MetricsFromSummary(s)
	m.CurrentModel = t.st.Model
	if t.st.LastCallModel != "" {
		m.CurrentModel = t.st.LastCallModel
	}
	m.LastCallInputTokens, m.LastCallOutputTokens = t.st.LastCallIn, t.st.LastCallOut
	if !t.st.StartTime.IsZero() {
		m.SessionStartTime = t.st.StartTime.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	for _, k := range t.st.Counted.keys() {
		u := *t.st.Counted[k]
		a := m.AgentMetrics[k.Agent]
		if a.ModelMetrics == nil {
			a.ModelMetrics = map[string]UsageMetricsModel{}
			if k.Agent != MainAgent {
				a.AgentName = t.agent(k.Agent).Name
			}
		}
		a.TotalAPIDurationMs += u.APIDurationMs
		a.TotalNanoAIU += u.NanoAIU
		am := a.ModelMetrics[k.Model]
		am.add(u)
		a.ModelMetrics[k.Model] = am
		m.AgentMetrics[k.Agent] = a
	}
	return m
}

// MetricsFromSummary is a usage summary in the UsageGetMetricsResult
// shape. For sessions known only from the usage their hooks reported, that
// is all there is: no breakdown by agent, no start time or last call.
func MetricsFromSummary(s UsageSummary) UsageMetrics {
	m := UsageMetrics{
		TotalPremiumRequestCost: s.TotalPremiumRequestCost,
		TotalUserRequests:       s.TotalUserRequests,
		TotalNanoAIU:            s.TotalNanoAIU,
		TotalAPIDurationMs:      s.TotalAPIDurationMs,
		CodeChanges: UsageMetricsCodeChanges{
			LinesAdded:         s.CodeChanges.LinesAdded,
			LinesRemoved:       s.CodeChanges.LinesRemoved,
			FilesModifiedCount: s.CodeChanges.FilesModified,
			FilesModified:      []string{},
		},
		ModelMetrics: map[string]UsageMetricsModel{},
		AgentMetrics: map[string]UsageMetricsAgent{},
	}
	for name, ms := range s.ModelMetrics {
		m.ModelMetrics[name] = UsageMetricsModel{
			Requests:     UsageMetricsRequests{Count: ms.Requests.Count, Cost: ms.Requests.PremiumCost},
			Usage:        ms.Usage,
			TotalNanoAIU: ms.TotalNanoAIU,
		}
	}
	return m
}
