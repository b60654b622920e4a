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

// do sends one request and maps the response: 2xx its body; 404 and 400
// a *dropError; 401 and 403 a permanent error; 429 a throttled retry after
// Retry-After; anything else a retryable error.
func (c *jiraClient) do(ctx context.Context, method, u string, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, consumererror.NewPermanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return nil, consumererror.NewPermanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
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
