package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// HookPayloadsKept is how many of a session's payloads a HookTracker
// remembers as delivered (Record), the newest. A payload sent again is one
// the forwarder got no answer for (in flight at a crash, or answered after
// its timeout): it replays it before the next payload of the machine, so
// it is among the session's last few. Each payload writes them all (about
// 35 bytes each) with the session's usage.
const HookPayloadsKept = 64

// hookState is what the store keeps of a session under hookUsageKey: the
// usage accepted, in the shape of a UsageSummary (the shape the key held
// before payloads were kept too, so either reads the other's), and the
// last payloads delivered.
type hookState struct {
	*UsageSummary        // nil: no usage accepted yet
	Payloads      string `json:"hookPayloads,omitempty"` // encodeMarks
}

// hookPayloadMark is one payload delivered: a digest of its id, and the
// signals that took it, in name order, joined by commas.
type hookPayloadMark struct {
	ID, Done string
}

// encodeMarks writes marks as "digest:signal,signal digest:signal ...",
// oldest first: one string, which costs a few microseconds to write where
// a JSON list of objects cost tens, at each payload.
func encodeMarks(marks []hookPayloadMark) string {
	var b strings.Builder
	b.Grow(len(marks) * len("0123456789abcdef :logs,metrics,traces")) // a digest is 16 bytes
	for i, m := range marks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.ID)
		b.WriteByte(':')
		b.WriteString(m.Done)
	}
	return b.String()
}

// decodeMarks reads what encodeMarks wrote; what does not parse is left
// out.
func decodeMarks(s string) []hookPayloadMark {
	var out []hookPayloadMark
	for _, f := range strings.Fields(s) {
		if id, done, ok := strings.Cut(f, ":"); ok && id != "" {
			out = append(out, hookPayloadMark{ID: id, Done: done})
		}
	}
	return out
}

// payloadDigest shortens a payload id (up to 128 bytes, or a hash of the
// payload) to 96 bits of its SHA-256, so that a session's marks stay small.
func payloadDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// Delivered returns the signals the payload of id was delivered to, as
// Record left them (also before a restart, from the store); nil when it
// is not among the session's last HookPayloadsKept payloads.
func (t *HookTracker) Delivered(ctx context.Context, id string) ([]string, error) {
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	d := payloadDigest(id)
	for i := len(t.payloads) - 1; i >= 0; i-- {
		if t.payloads[i].ID == d {
			if t.payloads[i].Done == "" {
				return []string{}, nil
			}
			return strings.Split(t.payloads[i].Done, ","), nil
		}
	}
	return nil, nil
}

// Record stores, in one write, that the payload of id was delivered to
// the signals done, and, when u is not nil, makes u (which the last call
// of Usage returned) the usage accepted for the session. An empty id
// records no payload. Usage needs no mark: a payload's cumulative usage
// that is not above what was accepted adds nothing. The mark is for the
// rest of its facts (hook invocations, lifecycle, tool calls, errors, the
// records of a session's end), which would be counted again.
func (t *HookTracker) Record(ctx context.Context, u *HookUsage, id string, done []string) error {
	if err := t.load(ctx); err != nil {
		return err
	}
	if u != nil {
		t.counted, t.code = u.counted, u.code
		s := u.summary
		t.accepted = &s
	}
	if id != "" {
		t.mark(payloadDigest(id), done)
	}
	if t.opts.Store == nil {
		return nil
	}
	b, err := json.Marshal(hookState{UsageSummary: t.accepted, Payloads: encodeMarks(t.payloads)})
	if err != nil {
		return err
	}
	if err := t.opts.Store.Set(ctx, hookUsageKey+t.ctx.SessionID, b); err != nil {
		return fmt.Errorf("saving the usage hooks reported for session %s: %w", t.ctx.SessionID, err)
	}
	return nil
}

// mark makes done the signals of the payload of digest d, the newest.
func (t *HookTracker) mark(d string, done []string) {
	signals := strings.Join(slices.Sorted(slices.Values(done)), ",")
	if i := slices.IndexFunc(t.payloads, func(m hookPayloadMark) bool { return m.ID == d }); i >= 0 {
		t.payloads = slices.Delete(t.payloads, i, i+1)
	}
	if len(t.payloads) >= HookPayloadsKept {
		t.payloads = slices.Delete(t.payloads, 0, len(t.payloads)-HookPayloadsKept+1)
	}
	t.payloads = append(t.payloads, hookPayloadMark{ID: d, Done: signals})
}
