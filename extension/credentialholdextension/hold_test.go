package credentialholdextension

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/otelcol-copilot/otelcol-copilot/extension/credentialholdextension/internal/metadatatest"
)

// TestHoldAnswers503ForRefusedCredentials: a backend's 401 and 403 reach the
// exporter as 503 (which the OTLP exporters retry) and are counted; every
// other answer, a 400 included, passes unchanged.
func TestHoldAnswers503ForRefusedCredentials(t *testing.T) {
	var answers = []int{401, 403, 400, 200}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		code := answers[n.Add(1)-1]
		http.Error(w, "answer "+http.StatusText(code), code)
	}))
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)

	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tt), createDefaultConfig())
	require.NoError(t, err)
	wrap, err := ext.(*hold).GetHTTPRoundTripper(context.Background())
	require.NoError(t, err)
	rt, err := wrap(context.Background(), http.DefaultTransport)
	require.NoError(t, err)
	client := &http.Client{Transport: rt}

	var got []int
	var bodies []string
	for range answers {
		resp, err := client.Post(srv.URL+"/v1/metrics", "application/x-protobuf", strings.NewReader("x"))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = append(got, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
	assert.Equal(t, []int{503, 503, 400, 200}, got)
	assert.Contains(t, bodies[0], "401 Unauthorized")
	assert.Contains(t, bodies[1], "403 Forbidden")
	assert.Contains(t, bodies[2], "answer Bad Request", "a 400 passes unchanged")
	metadatatest.AssertEqualExtensionCredentialHoldHeld(t, tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 401))},
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 403))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, createDefaultConfig().Validate())
	for _, c := range []Config{{}, {Statuses: []int{503}}, {Statuses: []int{401, 429}}, {Statuses: []int{200}}} {
		assert.Error(t, c.Validate(), "%v", c.Statuses)
	}
}

type refusingMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	codes []codes.Code
	n     atomic.Int64
}

func (s *refusingMetrics) Export(context.Context, pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	if c := s.codes[s.n.Add(1)-1]; c != codes.OK {
		return pmetricotlp.ExportResponse{}, status.Error(c, "answer "+c.String())
	}
	return pmetricotlp.NewExportResponse(), nil
}

// TestHoldAnswersUnavailableForRefusedCredentials: over gRPC, a backend's
// Unauthenticated and PermissionDenied reach the exporter as Unavailable
// (which the OTLP/gRPC exporter retries) and are counted as 401 and 403;
// InvalidArgument and success pass unchanged.
func TestHoldAnswersUnavailableForRefusedCredentials(t *testing.T) {
	srvImpl := &refusingMetrics{codes: []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.OK}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	pmetricotlp.RegisterGRPCServer(srv, srvImpl)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tt), createDefaultConfig())
	require.NoError(t, err)
	opts, err := ext.(*hold).GetGRPCClientOptions(context.Background())
	require.NoError(t, err)
	conn, err := grpc.NewClient(ln.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	require.NoError(t, err)
	defer conn.Close()
	client := pmetricotlp.NewGRPCClient(conn)

	var got []codes.Code
	for range srvImpl.codes {
		_, err := client.Export(context.Background(), pmetricotlp.NewExportRequest())
		got = append(got, status.Code(err))
	}
	assert.Equal(t, []codes.Code{codes.Unavailable, codes.Unavailable, codes.InvalidArgument, codes.OK}, got)
	metadatatest.AssertEqualExtensionCredentialHoldHeld(t, tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 401))},
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 403))},
	}, metricdatatest.IgnoreTimestamp())
}
