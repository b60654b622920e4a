package session

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// TraceID is the trace of a session. A session id that is a UUID (as the
// CLI writes them) is the trace id itself, so a trace can be found by the
// session id; any other id is hashed. The same session always gets the same
// trace, whichever entry point (transcript, hook) reports it first.
func TraceID(sessionID string) [16]byte {
	var id [16]byte
	if u, ok := parseUUID(sessionID); ok {
		return u
	}
	sum := sha256.Sum256([]byte("copilot-session\x00" + sessionID))
	copy(id[:], sum[:16])
	return id
}

// Span kinds, part of a span's identity.
const (
	spanLeg         = "leg"
	spanInteraction = "interaction"
	spanChat        = "chat"
	spanTool        = "tool"
	spanSubagent    = "subagent"
	// Spans of sessions counted from their hooks, whose payloads carry no
	// call ids: keyed by the tracker's own sequence.
	spanHookTool     = "hook-tool"
	spanHookSubagent = "hook-subagent"
)

// SpanID derives the id of a span from what identifies it in the session:
// its kind and a key (the leg number, the interaction id, the accounting id
// of a call, the tool call id, the subagent instance id).
func SpanID(sessionID, kind, key string) [8]byte {
	var id [8]byte
	// Hashed from a buffer on the stack: a span id is made for every
	// interaction, turn, tool call and usage record.
	var buf [160]byte
	b := append(buf[:0], sessionID...)
	b = append(append(b, 0), kind...)
	b = append(append(b, 0), key...)
	sum := sha256.Sum256(b)
	copy(id[:], sum[:8])
	if id == ([8]byte{}) {
		id[7] = 1 // an all-zero span id is invalid
	}
	return id
}

// LegSpanID is the id of the span of leg n of a session (0 is the first).
func LegSpanID(sessionID string, n int) [8]byte {
	return SpanID(sessionID, spanLeg, strconv.Itoa(n))
}

// ToolSpanID is the id of the span of a tool call.
func ToolSpanID(sessionID, toolCallID string) [8]byte {
	return SpanID(sessionID, spanTool, toolCallID)
}

// InteractionSpanID is the id of the span of a user interaction.
func InteractionSpanID(sessionID, interactionID string) [8]byte {
	return SpanID(sessionID, spanInteraction, interactionID)
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(s) != 36 || len(h) != 32 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	if u == ([16]byte{}) {
		return u, false
	}
	return u, true
}

// TraceContext is a W3C trace context seen in the transcript (the
// traceparent the CLI passes to hooks when its own OpenTelemetry export is
// on).
type TraceContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Sampled bool
}

// ParseTraceparent parses a W3C traceparent header value.
func ParseTraceparent(s string) (TraceContext, bool) {
	var tc TraceContext
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return tc, false
	}
	if _, err := hex.Decode(tc.TraceID[:], []byte(parts[1])); err != nil {
		return tc, false
	}
	if _, err := hex.Decode(tc.SpanID[:], []byte(parts[2])); err != nil {
		return tc, false
	}
	flags, err := hex.DecodeString(parts[3])
	if err != nil || tc.TraceID == ([16]byte{}) || tc.SpanID == ([8]byte{}) {
		return tc, false
	}
	tc.Sampled = flags[0]&1 == 1
	return tc, true
}
