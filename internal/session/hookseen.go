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
// it is among the session's last few. Each payload writes them all with
// the session's usage: 12 bytes each, for a payload every pipeline took.
const HookPayloadsKept = 32

// hookState is what the store keeps of a session under hookUsageKey: the
// usage accepted, in the shape of a UsageSummary (the shape the key held
// before payloads were kept too, so either reads the other's), and the
// last payloads delivered.
type hookState struct {
	*UsageSummary        // nil: no usage accepted yet
	Payloads      string `json:"hookPayloads,omitempty"` // encodeMarks
}

// storedHookState is hookState as load reads it: the marks also in the
// shapes earlier versions wrote (decodeStoredMarks), and marks that do not
// read cost the session none of its usage.
type storedHookState struct {
	*UsageSummary
	Payloads json.RawMessage `json:"hookPayloads,omitempty"`
}

// hookPayloadMark is one payload delivered: a digest of its id, and the
// signals that have not taken it yet, in name order, joined by commas
// ("" once every signal took it).
type hookPayloadMark struct {
	ID, Pending string
}

// encodeMarks writes marks as "digest digest:signal,signal ...", oldest
// first: one short string, which costs little to write at each payload.
func encodeMarks(marks []hookPayloadMark) string {
	var b strings.Builder
	b.Grow(len(marks) * 12)
	for i, m := range marks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.ID)
		if m.Pending != "" {
			b.WriteByte(':')
			b.WriteString(m.Pending)
		}
	}
	return b.String()
}

// decodeMarks reads what encodeMarks wrote; what does not parse is left
// out.
func decodeMarks(s string) []hookPayloadMark {
	var out []hookPayloadMark
	for _, f := range strings.Fields(s) {
		id, pending, _ := strings.Cut(f, ":")
		if id != "" {
			out = append(out, hookPayloadMark{ID: id, Pending: pending})
		}
	}
	return out
}

// decodeStoredMarks reads the marks of a stored hook state: encodeMarks's
// string, or what earlier versions wrote, which named the signals that
// took a payload (not those that had not) by a 96-bit digest of its id:
// a JSON list of {"id", "done"} (c0d7550) or "digest:signal,signal ..."
// (d90649d). Such a mark becomes one of this version's: its digest's
// first 64 bits (payloadDigest's), pending the signals not done.
func decodeStoredMarks(raw json.RawMessage) []hookPayloadMark {
	type legacyMark struct {
		ID   string   `json:"id"`
		Done []string `json:"done"`
	}
	var legacy []legacyMark
	var s string
	switch {
	case len(raw) == 0:
		return nil
	case json.Unmarshal(raw, &s) == nil:
		marks := decodeMarks(s)
		out := marks[:0]
		for _, m := range marks {
			if len(m.ID) != legacyDigestLen {
				out = append(out, m)
			} else if l, ok := fromLegacyMark(m.ID, strings.Split(m.Pending, ",")); ok {
				out = append(out, l)
			}
		}
		return out
	case json.Unmarshal(raw, &legacy) == nil:
		var out []hookPayloadMark
		for _, m := range legacy {
			if l, ok := fromLegacyMark(m.ID, m.Done); ok {
				out = append(out, l)
			}
		}
		return out
	}
	return nil
}

// legacyDigestLen is the length of the 96-bit digests of earlier versions.
const legacyDigestLen = 16

// legacySignals are the signals of the versions that stored marks of the
// signals done: every signal a payload can be pending for.
var legacySignals = []string{"logs", "metrics", "traces"}

// fromLegacyMark is an earlier version's mark, a 96-bit digest and the
// signals done, as this version's.
func fromLegacyMark(digest string, done []string) (hookPayloadMark, bool) {
	sum, err := base64.RawURLEncoding.DecodeString(digest)
	if err != nil || len(sum) != 12 {
		return hookPayloadMark{}, false
	}
	var pending []string
	for _, sig := range legacySignals {
		if !slices.Contains(done, sig) {
			pending = append(pending, sig)
		}
	}
	return hookPayloadMark{ID: base64.RawURLEncoding.EncodeToString(sum[:8]), Pending: strings.Join(pending, ",")}, true
}

// payloadDigest shortens a payload id (up to 128 bytes, or a hash of the
// payload) to 64 bits of its SHA-256: among a session's last
// HookPayloadsKept payloads, another payload's id matches one by chance
// with a probability of about 2^-59.
func payloadDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

// Delivered reports whether the payload of id was delivered, as Record
// left it (also before a restart, from the store), and to which signals it
// has not been delivered yet; false when it is not among the session's
// last HookPayloadsKept payloads.
func (t *HookTracker) Delivered(ctx context.Context, id string) (pending []string, found bool, err error) {
	if err := t.load(ctx); err != nil {
		return nil, false, err
	}
	d := payloadDigest(id)
	for i := len(t.payloads) - 1; i >= 0; i-- {
		if m := t.payloads[i]; m.ID == d {
			if m.Pending == "" {
				return nil, true, nil
			}
			return strings.Split(m.Pending, ","), true, nil
		}
	}
	return nil, false, nil
}

// Record stores, in one write, that the payload of id was delivered to
// every signal but pending, and, when u is not nil, makes u (which the
// last call of Usage returned) the usage accepted for the session. An
// empty id records no payload. Usage needs no mark: a payload's cumulative
// usage that is not above what was accepted adds nothing. The mark is for
// the rest of its facts (hook invocations, lifecycle, tool calls, errors,
// the records of a session's end), which would be counted again.
func (t *HookTracker) Record(ctx context.Context, u *HookUsage, id string, pending []string) error {
	if err := t.load(ctx); err != nil {
		return err
	}
	if u != nil {
		t.counted, t.code = u.counted, u.code
		s := u.summary
		t.accepted = &s
	}
	if id != "" {
		t.mark(payloadDigest(id), pending)
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

// mark records the payload of digest d, the newest, with its pending
// signals.
func (t *HookTracker) mark(d string, pending []string) {
	p := strings.Join(slices.Sorted(slices.Values(pending)), ",")
	if i := slices.IndexFunc(t.payloads, func(m hookPayloadMark) bool { return m.ID == d }); i >= 0 {
		t.payloads = slices.Delete(t.payloads, i, i+1)
	}
	if len(t.payloads) >= HookPayloadsKept {
		t.payloads = slices.Delete(t.payloads, 0, len(t.payloads)-HookPayloadsKept+1)
	}
	t.payloads = append(t.payloads, hookPayloadMark{ID: d, Pending: p})
}
