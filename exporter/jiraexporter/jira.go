package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/internal/retryafter"
)

// maxErrorBody bounds how much of an error response is read and logged.
const maxErrorBody = 1 << 10

// jiraClient speaks Jira's REST API: v3 with basic auth (email and API
// token) on cloud, v2 with a bearer personal access token on Data Center.
// It is safe for concurrent use; the token is only ever put in a header.
type jiraClient struct {
	hc      *http.Client
	base    string
	v3      bool
	email   string
	token   string
	nowFunc func() time.Time
}

func newJiraClient(hc *http.Client, cfg *Config, token string) *jiraClient {
	return &jiraClient{
		hc:      hc,
		base:    strings.TrimRight(cfg.Endpoint, "/"),
		v3:      cfg.Deployment == deploymentCloud,
		email:   cfg.Email,
		token:   token,
		nowFunc: time.Now,
	}
}

// dropError is a write Jira refused that retrying cannot fix.
type dropError struct {
	reason string
	detail string
}

func (d *dropError) Error() string { return d.reason + ": " + d.detail }

func (c *jiraClient) issueURL(key string, tail string) string {
	v := "2"
	if c.v3 {
		v = "3"
	}
	return c.base + "/rest/api/" + v + "/issue/" + url.PathEscape(key) + tail
}

// updateFields sets fields of the issue key.
func (c *jiraClient) updateFields(ctx context.Context, key string, fields map[string]any) error {
	_, err := c.do(ctx, http.MethodPut, c.issueURL(key, ""), map[string]any{"fields": fields})
	return err
}

// commentBody is a comment's body: the text on v2, an Atlassian Document
// Format paragraph on v3.
func (c *jiraClient) commentBody(text string) map[string]any {
	var body any = text
	if c.v3 {
		body = map[string]any{
			"type": "doc", "version": 1,
			"content": []any{map[string]any{
				"type":    "paragraph",
				"content": []any{map[string]any{"type": "text", "text": text}},
			}},
		}
	}
	return map[string]any{"body": body}
}

// addComment posts a comment on the issue key and returns its id.
func (c *jiraClient) addComment(ctx context.Context, key, text string) (string, error) {
	resp, err := c.do(ctx, http.MethodPost, c.issueURL(key, "/comment"), c.commentBody(text))
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return "", consumererror.NewPermanent(fmt.Errorf("jira comment response: %w", err))
	}
	return out.ID, nil
}

// updateComment replaces the text of the issue's comment id. A comment
// deleted in Jira (or an issue gone) is a *dropError with reason
// not_found.
func (c *jiraClient) updateComment(ctx context.Context, key, id, text string) error {
	_, err := c.do(ctx, http.MethodPut, c.issueURL(key, "/comment/"+url.PathEscape(id)), c.commentBody(text))
	return err
}

// comment is one comment on an issue: its id and its text (of a v3
// Atlassian Document Format body, the text of its text nodes).
type comment struct {
	ID, Text string
}

// Listing an issue's comments goes at most commentPages pages of
// commentsPerPage deep, newest first.
const (
	commentsPerPage = 100
	commentPages    = 10
)

// listComments returns the issue's newest comments, newest first, at most
// commentPages × commentsPerPage of them. Jira may give fewer per page
// than asked; the pages follow its startAt and total.
func (c *jiraClient) listComments(ctx context.Context, key string) ([]comment, error) {
	var out []comment
	for page, startAt := 0, 0; page < commentPages; page++ {
		q := url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(commentsPerPage)}, "orderBy": {"-created"}}
		resp, err := c.do(ctx, http.MethodGet, c.issueURL(key, "/comment")+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var p struct {
			Total    int `json:"total"`
			Comments []struct {
				ID   string          `json:"id"`
				Body json.RawMessage `json:"body"`
			} `json:"comments"`
		}
		if err := json.Unmarshal(resp, &p); err != nil {
			return nil, fmt.Errorf("jira comments of %s: %w", key, err)
		}
		for _, cm := range p.Comments {
			out = append(out, comment{ID: cm.ID, Text: bodyText(cm.Body)})
		}
		startAt += len(p.Comments)
		if len(p.Comments) == 0 || startAt >= p.Total {
			break
		}
	}
	return out, nil
}

// bodyText is a comment body's text: a v2 string, or the text nodes of a
// v3 Atlassian Document Format document, in order.
func bodyText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(n any)
	walk = func(n any) {
		m, ok := n.(map[string]any)
		if !ok {
			return
		}
		if t, ok := m["text"].(string); ok {
			b.WriteString(t)
		}
		content, _ := m["content"].([]any)
		for _, c := range content {
			walk(c)
		}
	}
	walk(doc)
	return b.String()
}

// do sends one request (payload as JSON, none if nil) and maps the
// response: 2xx its body; 404, 400, 401 and 403 a *dropError; 429 a
// throttled retry after Retry-After; anything else a retryable error.
func (c *jiraClient) do(ctx context.Context, method, u string, payload any) ([]byte, error) {
	var body io.Reader
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, consumererror.NewPermanent(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, consumererror.NewPermanent(err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.v3 {
		req.SetBasicAuth(c.email, c.token)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jira %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := fmt.Sprintf("jira %s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(detail)))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, &dropError{reason: "not_found", detail: msg}
	case http.StatusBadRequest:
		return nil, &dropError{reason: "bad_request", detail: msg}
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, &dropError{reason: "unauthorized", detail: msg}
	case http.StatusTooManyRequests:
		return nil, exporterhelper.NewThrottleRetry(errors.New(msg), retryafter.Parse(resp.Header.Get("Retry-After"), c.nowFunc()))
	}
	return nil, errors.New(msg)
}
