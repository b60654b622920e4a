// Package retryafter reads an HTTP Retry-After header, for every client in
// the project that honours one: the hook forwarder (the collector busy),
// the jira exporter and the notify exporter (Jira, Slack or Teams
// throttling). It depends on the standard library only, so that the
// forwarder stays small.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse returns how long a Retry-After value asks to wait at now: a number
// of seconds, or an HTTP date. Zero for an empty, invalid, non-positive or
// past value.
func Parse(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
