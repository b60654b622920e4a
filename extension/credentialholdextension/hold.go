package credentialholdextension // import "github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension"

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension/internal/metadata"
)

// hold is the extension: a middleware for HTTP and gRPC clients
// (confighttp's and configgrpc's middlewares) that answers a refusal of
// credentials as retryable.
type hold struct {
	statuses map[int]bool
	log      *zap.Logger
	tel      *metadata.TelemetryBuilder
}

var (
	_ extensionmiddleware.HTTPClient = (*hold)(nil)
	_ extensionmiddleware.GRPCClient = (*hold)(nil)
)

// heldMessage is the log line of each refusal held.
const heldMessage = "The backend refuses the collector's credentials; the exporter is told to send the request again, and it is sent until they are fixed"

// attrStatus is the attribute the held requests are counted by.
const attrStatus = "http.response.status_code"

func newHold(cfg *Config, log *zap.Logger, tel *metadata.TelemetryBuilder) *hold {
	h := &hold{statuses: map[int]bool{}, log: log, tel: tel}
	for _, s := range cfg.Statuses {
		h.statuses[s] = true
	}
	return h
}

func (*hold) Start(context.Context, component.Host) error { return nil }

func (h *hold) Shutdown(context.Context) error {
	h.tel.Shutdown()
	return nil
}

// GetHTTPRoundTripper wraps an exporter's HTTP transport.
func (h *hold) GetHTTPRoundTripper(context.Context) (extensionmiddleware.WrapHTTPRoundTripperFunc, error) {
	return func(_ context.Context, base http.RoundTripper) (http.RoundTripper, error) {
		return &roundTripper{hold: h, base: base}, nil
	}, nil
}

type roundTripper struct {
	*hold
	base http.RoundTripper
}

// RoundTrip sends req; an answer in statuses comes back as 503 Service
// Unavailable, without Retry-After, so that the exporter backs off and
// sends the request again, and its sending queue keeps it meanwhile. The
// original answer is logged and counted; its body is read and dropped.
func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	if err != nil || !rt.statuses[resp.StatusCode] {
		return resp, err
	}
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	rt.tel.ExtensionCredentialHoldHeld.Add(req.Context(), 1, metric.WithAttributes(attribute.Int(attrStatus, resp.StatusCode)))
	rt.log.Error(heldMessage, zap.String("url", req.URL.Redacted()), zap.Int("status", resp.StatusCode), zap.String("answer", strings.TrimSpace(string(detail))))
	msg := fmt.Sprintf("credential_hold: the backend answered %s; held to be sent again", resp.Status)
	return &http.Response{
		Status:        "503 Service Unavailable",
		StatusCode:    http.StatusServiceUnavailable,
		Proto:         resp.Proto,
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:          io.NopCloser(strings.NewReader(msg)),
		ContentLength: int64(len(msg)),
		Request:       req,
	}, nil
}

// grpcStatuses are the gRPC codes that stand for the HTTP statuses a
// refusal of credentials is configured as.
var grpcStatuses = map[codes.Code]int{
	codes.Unauthenticated:  http.StatusUnauthorized,
	codes.PermissionDenied: http.StatusForbidden,
}

// GetGRPCClientOptions adds to a gRPC exporter's client an interceptor that
// answers Unauthenticated (as 401) and PermissionDenied (as 403), when
// their HTTP status is in statuses, as Unavailable, which the OTLP/gRPC
// exporter retries.
func (h *hold) GetGRPCClientOptions(context.Context) ([]grpc.DialOption, error) {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(h.intercept)}, nil
}

func (h *hold) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	st, ok := status.FromError(err)
	if err == nil || !ok {
		return err
	}
	code, refused := grpcStatuses[st.Code()]
	if !refused || !h.statuses[code] {
		return err
	}
	h.tel.ExtensionCredentialHoldHeld.Add(ctx, 1, metric.WithAttributes(attribute.Int(attrStatus, code)))
	h.log.Error(heldMessage, zap.String("target", cc.Target()), zap.String("method", method), zap.String("code", st.Code().String()), zap.String("answer", st.Message()))
	return status.Errorf(codes.Unavailable, "credential_hold: the backend answered %s: %s; held to be sent again", st.Code(), st.Message())
}
