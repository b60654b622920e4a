//go:build crashtest

package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"testing"
)

var (
	shortCollector = flag.String("crashtest.collector", "", "agent binary for TestShort (default: built from ./cmd/otelcol-copilot)")
	shortGateway   = flag.String("crashtest.gateway", "", "gateway binary for TestShort (default: built from ./cmd/otelcol-copilot-gateway)")
	shortShape     = flag.String("crashtest.shape", "direct", "pipeline shape for TestShort")
)

// TestShort is the CI form of the crash test: on the direct shape, 20
// SIGKILLs of the agent (about half of them while the gateway is paused),
// 3 graceful stops and one gateway kill while 150 sessions are read,
// judged by the exact criteria. About 30 s on two cores plus the build.
//
//	go test -tags crashtest ./tools/crashtest -run Short -v
//	go test -tags crashtest ./tools/crashtest -run Short -v -args -crashtest.shape=batch_legacy   # fails
func TestShort(t *testing.T) {
	args := []string{
		"-shape", *shortShape,
		"-sessions", "150",
		"-seed", "1",
		"-kills", "20",
		"-sigterm", "3",
		"-gateway-kills", "1",
		"-max-delay", "1500ms",
		"-stall", "0.5",
	}
	if *shortCollector != "" {
		args = append(args, "-collector", *shortCollector)
	}
	if *shortGateway != "" {
		args = append(args, "-gateway", *shortGateway)
	}
	err := run(context.Background(), args, os.Stdout, os.Stderr)
	if errors.Is(err, errFailed) {
		t.Fatal("the exact criteria failed (see the table above)")
	}
	if err != nil {
		t.Fatal(err)
	}
}
