package pipeline

import (
	"errors"
	"net/http"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RejectedForGood reports whether err, returned by a signal's Consume, is
// the pipeline rejecting what was offered for good, so that offering it
// again cannot help and it is dropped (and counted): a permanent error
// (consumererror.IsPermanent) other than RefusedCredentials. Anything else
// is offered again.
func RejectedForGood(err error) bool {
	return consumererror.IsPermanent(err) && !RefusedCredentials(err)
}

// RefusedCredentials reports whether err is a backend refusing the
// collector's credentials or permissions: HTTP 401 or 403, gRPC
// Unauthenticated or PermissionDenied. The OTLP exporters report these as
// permanent errors, but they say nothing of the data: a token that expired
// or was rotated is fixed by its owner, and the same usage is then taken.
// Usage refused for them is held and offered again, never dropped.
func RefusedCredentials(err error) bool {
	var ce *consumererror.Error
	if errors.As(err, &ce) {
		switch consumererror.ToHTTPStatus(ce) {
		case http.StatusUnauthorized, http.StatusForbidden:
			return true
		}
	}
	if st, ok := status.FromError(err); ok && st != nil {
		switch st.Code() {
		case codes.Unauthenticated, codes.PermissionDenied:
			return true
		}
	}
	return false
}
