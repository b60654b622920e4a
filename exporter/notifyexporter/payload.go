package notifyexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter"

import (
	"encoding/json"
	"strconv"
	"strings"
	"text/template"
)

// The bodies are written by hand with typed structs: no Slack or Teams SDK.

// slackMessage is a Slack incoming webhook's body: text in Slack's mrkdwn.
type slackMessage struct {
	Text string `json:"text"`
}

// teamsMessage is a Teams workflow webhook's body ("When a Teams webhook
// request is received"): one Adaptive Card 1.4 in an attachments envelope.
type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string      `json:"$schema"`
	Type    string      `json:"type"`
	Version string      `json:"version"`
	Body    []cardBlock `json:"body"`
}

// cardBlock is a TextBlock or a FactSet.
type cardBlock struct {
	Type   string     `json:"type"`
	Text   string     `json:"text,omitempty"`
	Wrap   bool       `json:"wrap,omitempty"`
	Weight string     `json:"weight,omitempty"`
	Color  string     `json:"color,omitempty"`
	Facts  []cardFact `json:"facts,omitempty"`
}

type cardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// webhookMessage is the generic webhook's body: the rendered text and
// every field of the crossing.
type webhookMessage struct {
	Event    string   `json:"event"`
	Text     string   `json:"text"`
	Crossing Crossing `json:"crossing"`
}

// sessionMessage is the generic webhook's body for a costly session.
type sessionMessage struct {
	Event   string  `json:"event"`
	Text    string  `json:"text"`
	Session Session `json:"session"`
}

// sessionPayload renders s with tmpl and wraps the text in the
// destination kind's body.
func (d *destination) sessionPayload(tmpl *template.Template, s Session) ([]byte, error) {
	var sb strings.Builder
	if err := tmpl.Execute(&sb, s); err != nil {
		return nil, err
	}
	text := sb.String()
	switch d.Kind {
	case kindSlack:
		return json.Marshal(slackMessage{Text: text})
	case kindTeams:
		facts := []cardFact{
			{Title: "Session", Value: s.ID},
			{Title: "Cost", Value: s.Cost + " " + s.Currency},
			{Title: "AI credits", Value: s.Credits},
			{Title: "Tokens", Value: strconv.FormatInt(s.Tokens, 10)},
		}
		for _, f := range []cardFact{{"Ticket", s.Ticket}, {"Team", s.Team}, {"Repository", s.Repository}, {"Branch", s.Branch}, {"User", s.User}} {
			if f.Value != "" {
				facts = append(facts, f)
			}
		}
		return json.Marshal(teamsCard(text, "Warning", facts))
	default:
		return json.Marshal(sessionMessage{Event: eventSummary, Text: text, Session: s})
	}
}

// teamsCard is an Adaptive Card 1.4 with a bold text and a fact set, in a
// workflow webhook's attachments envelope.
func teamsCard(text, color string, facts []cardFact) teamsMessage {
	return teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: adaptiveCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body: []cardBlock{
					{Type: "TextBlock", Text: text, Wrap: true, Weight: "Bolder", Color: color},
					{Type: "FactSet", Facts: facts},
				},
			},
		}},
	}
}

// payload renders c with the destination's template and wraps the text in
// the destination kind's body.
func (d *destination) payload(c Crossing) ([]byte, error) {
	var sb strings.Builder
	if err := d.tmpl.Execute(&sb, c); err != nil {
		return nil, err
	}
	text := sb.String()
	switch d.Kind {
	case kindSlack:
		return json.Marshal(slackMessage{Text: text})
	case kindTeams:
		color := "Warning"
		if c.Severity == "ERROR" {
			color = "Attention"
		}
		facts := []cardFact{
			{Title: "Budget", Value: c.Budget},
			{Title: c.Scope, Value: c.Value},
			{Title: "Threshold", Value: strconv.FormatFloat(c.Threshold, 'f', -1, 64) + " %"},
			{Title: "Spend", Value: c.Spend + " " + c.Currency},
			{Title: "Limit", Value: c.Limit + " " + c.Currency},
			{Title: "Window", Value: c.WindowStart + " to " + c.WindowEnd},
		}
		for i, s := range c.TopSessions {
			facts = append(facts, cardFact{Title: "Top session " + strconv.Itoa(i+1), Value: s.Session + " (" + s.Spend + " " + c.Currency + ")"})
		}
		return json.Marshal(teamsCard(text, color, facts))
	default:
		return json.Marshal(webhookMessage{Event: eventCrossing, Text: text, Crossing: c})
	}
}
