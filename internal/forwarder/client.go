package forwarder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/retryafter"
)

// Outcome is what became of one attempt to deliver a payload.
type Outcome int

// Outcomes of a delivery attempt.
const (
	// Delivered: the collector took the payload (2xx).
	Delivered Outcome = iota
	// Rejected: the collector says the payload is bad (400); it is dropped.
	Rejected
	// TooLarge: the collector refuses the payload's size (413); it is dropped.
	TooLarge
	// Unauthorized: the collector refused the token (401, 403); the payload
	// is kept.
	Unauthorized
	// Refused: the collector is busy (429, 503); the payload is kept.
	Refused
	// Failed: the collector could not be reached, did not answer in time, or
	// answered another error; the payload is kept.
	Failed
)

var outcomeNames = [...]string{"delivered", "rejected", "too large", "unauthorized", "refused", "failed"}

// String names the outcome.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome " + strconv.Itoa(int(o))
}

// keep reports whether a payload with this outcome stays in the spool.
func (o Outcome) keep() bool { return o == Unauthorized || o == Refused || o == Failed }

// Headers the collector reads besides the payload.
const (
	// HookIDHeader carries the idempotency key of a payload.
	HookIDHeader = "X-Copilot-Hook-Id"
	// HostHeader names the machine the hook ran on, so that the collector
	// can tell its own machine's sessions (whose transcripts it reads) from
	// others'.
	HostHeader = "X-Copilot-Hook-Host"
	// DroppedTotalHeader is how many payloads this machine's spool has
	// dropped over its bounds, ever; the collector counts the increase.
	DroppedTotalHeader = "X-Copilot-Hook-Dropped-Total"
	// SpoolHeader identifies the spool whose drops DroppedTotalHeader
	// counts (Spool.ID), sent with it: several spools of one machine each
	// keep their own total.
	SpoolHeader = "X-Copilot-Hook-Spool"
	// ClientHeader names the sender. The collector refuses a POST without
	// it: a web page cannot add it to a request to another site, so a
	// payload that has it was not forged by a page in the developer's
	// browser.
	ClientHeader = "X-Copilot-Hook-Client"
)

// ClientName is what the forwarder sends in ClientHeader.
const ClientName = "otelcol-copilot-hook"

// HooksPath is the collector's path for hook payloads, followed by the type.
const HooksPath = "/v1/hooks/"

// Attempt is the result of one POST.
type Attempt struct {
	Outcome Outcome
	Status  int
	// Message is the collector's error, or the transport error.
	Message    string
	RetryAfter time.Duration
	Elapsed    time.Duration
}

// String describes the attempt for logs: outcome, status and message.
func (a Attempt) String() string {
	s := a.Outcome.String()
	if a.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", a.Status)
	}
	if a.Message != "" {
		s += ": " + a.Message
	}
	return s
}

// Client posts payloads to the collector.
type Client struct {
	// Endpoint is the collector's base URL, e.g. http://127.0.0.1:4320.
	Endpoint string
	// Token, when set, is sent as a bearer token.
	Token string
	// UserAgent names the sender.
	UserAgent string
	// Host is this machine's name, sent in HostHeader.
	Host string
	// Dropped, when set, tells the spool's drop count for
	// DroppedTotalHeader.
	Dropped func() int64
	// Spool, when set, tells the spool's identity for SpoolHeader, sent
	// with DroppedTotalHeader.
	Spool func() string
	HTTP  *http.Client
}

// Send posts one payload, giving up at ctx's deadline.
func (c *Client) Send(ctx context.Context, e Entry) Attempt {
	start := time.Now()
	a := c.send(ctx, e)
	a.Elapsed = time.Since(start)
	return a
}

func (c *Client) send(ctx context.Context, e Entry) Attempt {
	url := strings.TrimRight(c.Endpoint, "/") + HooksPath + e.Type
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(e.Body))
	if err != nil {
		return Attempt{Outcome: Failed, Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ClientHeader, ClientName)
	req.Header.Set(HookIDHeader, e.ID)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Host != "" {
		req.Header.Set(HostHeader, c.Host)
	}
	if c.Dropped != nil {
		if n := c.Dropped(); n > 0 {
			req.Header.Set(DroppedTotalHeader, strconv.FormatInt(n, 10))
			if c.Spool != nil {
				if id := c.Spool(); id != "" {
					req.Header.Set(SpoolHeader, id)
				}
			}
		}
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "no answer in time (" + msg + ")"
		}
		return Attempt{Outcome: Failed, Message: msg}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	a := Attempt{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		a.Outcome = Delivered
		return a
	case resp.StatusCode == http.StatusBadRequest:
		a.Outcome = Rejected
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		a.Outcome = TooLarge
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		a.Outcome = Unauthorized
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		a.Outcome = Refused
		a.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		a.Outcome = Failed
	}
	a.Message = errorMessage(body)
	return a
}

// errorMessage reads {"error": "..."} or returns the body's start.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter is how long a Retry-After header asks the forwarder to wait,
// at most maxBackoff.
func retryAfter(v string, now time.Time) time.Duration {
	return min(retryafter.Parse(v, now), maxBackoff)
}
