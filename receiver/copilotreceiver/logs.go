package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// logsBuilder turns facts into log records: a session summary at each
// shutdown and the session's errors, each tied to the session's trace.
type logsBuilder struct {
	resources *resourceBuilder
	version   string
	events    metadata.EventsConfig
}

func (b *logsBuilder) build(f *session.Facts) plog.Logs {
	ld := plog.NewLogs()
	byCtx := map[*session.Context]plog.LogRecordSlice{}
	// record appends a log record of an event of the session's trace.
	record := func(ctx *session.Context, event string, ts time.Time, sev plog.SeverityNumber, sevText string, span [8]byte) plog.LogRecord {
		lrs, ok := byCtx[ctx]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			b.resources.fill(rl.Resource(), ctx, true)
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(metadata.ScopeName)
			sl.Scope().SetVersion(b.version)
			lrs = sl.LogRecords()
			byCtx[ctx] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.SetEventName(event)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetSeverityNumber(sev)
		lr.SetSeverityText(sevText)
		lr.SetTraceID(session.TraceID(ctx.SessionID))
		lr.SetSpanID(span)
		return lr
	}
	if b.events.CopilotSessionSummary.Enabled {
		for _, s := range f.Summaries {
			lr := record(s.Ctx, semconv.EventCopilotSessionSummary, s.Time, plog.SeverityNumberInfo, "INFO", session.LegSpanID(s.Ctx.SessionID, s.Leg))
			if s.ShutdownType == session.ShutdownIdle {
				// One per idle episode of a leg; the leg's shutdown, if it
				// comes, is another record.
				putUID(lr, s.Ctx.SessionID, semconv.EventCopilotSessionSummary, strconv.Itoa(s.Leg), s.ShutdownType, strconv.FormatInt(s.Time.UnixNano(), 10))
			} else {
				putUID(lr, s.Ctx.SessionID, semconv.EventCopilotSessionSummary, strconv.Itoa(s.Leg))
			}
			lr.Attributes().PutInt(semconv.AttrCopilotSessionLeg, int64(s.Leg))
			putIf(lr.Attributes(), semconv.AttrCopilotShutdownType, s.ShutdownType)
			usagebody.Put(lr.Body().SetEmptyMap(), s.Usage)
		}
	}
	if b.events.CopilotSessionError.Enabled {
		for _, e := range f.Errors {
			lr := record(e.Ctx, semconv.EventCopilotSessionError, e.Time, plog.SeverityNumberError, "ERROR", e.Span)
			putUID(lr, e.Ctx.SessionID, semconv.EventCopilotSessionError, strconv.FormatInt(e.Time.UnixNano(), 10), hex.EncodeToString(e.Span[:]), e.Context, e.Type, e.Code, e.Message)
			lr.Body().SetStr(e.Message)
			a := lr.Attributes()
			putIf(a, semconv.AttrErrorType, e.Type)
			putIf(a, semconv.AttrCopilotErrorCode, e.Code)
			putIf(a, semconv.AttrCopilotErrorContext, e.Context)
			if e.StatusCode != 0 {
				a.PutInt(semconv.AttrHTTPResponseStatusCode, e.StatusCode)
			}
			a.PutStr(semconv.AttrGenAIAgentName, e.Agent.Name)
		}
	}
	if b.events.CopilotSessionEnd.Enabled {
		for _, e := range f.Ends {
			lr := record(e.Ctx, semconv.EventCopilotSessionEnd, e.Time, plog.SeverityNumberInfo, "INFO", [8]byte{})
			putUID(lr, e.Ctx.SessionID, semconv.EventCopilotSessionEnd, strconv.FormatInt(e.Time.UnixNano(), 10), e.Reason)
			putIf(lr.Attributes(), semconv.AttrCopilotSessionEndReason, e.Reason)
			if e.Usage != nil {
				usagebody.Put(lr.Body().SetEmptyMap(), *e.Usage)
			}
		}
	}
	return ld
}

// putUID sets log.record.uid from what identifies the record: the same
// event of the same session always gets the same id.
func putUID(lr plog.LogRecord, parts ...string) {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	lr.Attributes().PutStr(semconv.AttrLogRecordUID, hex.EncodeToString(h.Sum(nil)[:16]))
}
