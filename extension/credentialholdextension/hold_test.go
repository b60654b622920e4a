package credentialholdextension

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

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
