package consoleexporter

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter/internal/metadatatest"
)

// TestCounts: the lines written and the records not written again, by
// kind, through the factory's exporter.
func TestCounts(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	var out bytes.Buffer
	c, err := newConsole(&Config{Output: OutputStdout, TimeZone: "UTC"}, tel.NewTelemetrySettings(), &out)
	require.NoError(t, err)
	defer func() { require.NoError(t, c.shutdown(context.Background())) }()

	ld := plog.NewLogs()
	summary{session: "0b1e1ed0-5a1e-4c0d-9b11-000000000001", when: at, uid: "u1"}.appendTo(ld)
	summary{session: "0b1e1ed0-5a1e-4c0d-9b11-000000000002", when: at, uid: "u2"}.appendTo(ld)
	crossing(ld, "c1", 50, "5", "10", at)
	other(ld)
	require.NoError(t, c.pushLogs(context.Background(), ld))
	require.NoError(t, c.pushLogs(context.Background(), ld)) // all seen

	kind := func(k string) attribute.Set { return attribute.NewSet(attribute.String("kind", k)) }
	metadatatest.AssertEqualExporterConsoleLines(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: kind(kindSessionEnd), Value: 2},
		{Attributes: kind(kindCrossing), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterConsoleDuplicates(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: kind(kindSessionEnd), Value: 2},
		{Attributes: kind(kindCrossing), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}
