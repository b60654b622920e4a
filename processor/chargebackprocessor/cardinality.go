package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import "sync"

// overflowValue replaces values beyond an attribute's cap on metrics.
const overflowValue = "other"

// limiter caps the distinct values of attributes on metrics: the first
// values seen are kept, later new ones become "other". Spans and logs are
// not limited. It is safe for concurrent use.
type limiter struct {
	caps     map[string]int
	overflow func(key string) // counts a replaced value

	mu   sync.Mutex
	seen map[string]map[string]struct{}
}

func newLimiter(caps map[string]int) *limiter {
	return &limiter{caps: caps, seen: map[string]map[string]struct{}{}}
}

// admit returns v, or "other" when v would exceed the cap of key.
func (l *limiter) admit(key, v string) string {
	limit, ok := l.caps[key]
	if !ok {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.seen[key]
	if set == nil {
		set = map[string]struct{}{}
		l.seen[key] = set
	}
	if _, ok := set[v]; ok {
		return v
	}
	if len(set) >= limit {
		if l.overflow != nil {
			l.overflow(key)
		}
		return overflowValue
	}
	set[v] = struct{}{}
	return v
}
