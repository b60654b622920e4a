package pipeline

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRejectedForGood(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		forGood bool
	}{
		{"retryable", errors.New("memory limiter: data refused"), false},
		{"permanent", consumererror.NewPermanent(errors.New("invalid data")), true},
		{"permanent InvalidArgument", consumererror.NewPermanent(status.Error(codes.InvalidArgument, "HTTP 400")), true},
		{"permanent NotFound", consumererror.NewPermanent(status.Error(codes.NotFound, "HTTP 404")), true},
		// What the OTLP/HTTP exporter returns for a 401 or a 403: a
		// permanent error around a gRPC status made from the HTTP code,
		// wrapped again on its way back through the exporter helper.
		{"otlp_http 401", fmt.Errorf("not retryable error: %w", consumererror.NewPermanent(status.Error(codes.Unauthenticated, "error exporting items, request to http://127.0.0.1/v1/metrics responded with HTTP Status Code 401"))), false},
		{"otlp_http 403", consumererror.NewPermanent(status.Error(codes.PermissionDenied, "HTTP Status Code 403")), false},
		{"otlp_grpc Unauthenticated", consumererror.NewPermanent(status.Error(codes.Unauthenticated, "bad token")), false},
		{"consumererror HTTP 401", consumererror.NewPermanent(consumererror.NewOTLPHTTPError(errors.New("unauthorized"), http.StatusUnauthorized)), false},
		{"consumererror HTTP 403", consumererror.NewPermanent(consumererror.NewOTLPHTTPError(errors.New("forbidden"), http.StatusForbidden)), false},
		{"consumererror HTTP 400", consumererror.NewPermanent(consumererror.NewOTLPHTTPError(errors.New("bad request"), http.StatusBadRequest)), true},
		{"joined with a refusal of credentials", errors.Join(consumererror.NewPermanent(errors.New("invalid")), consumererror.NewPermanent(status.Error(codes.Unauthenticated, "bad token"))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RejectedForGood(tc.err); got != tc.forGood {
				t.Errorf("RejectedForGood(%v) = %v, want %v", tc.err, got, tc.forGood)
			}
		})
	}
}
