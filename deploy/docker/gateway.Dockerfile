# syntax=docker/dockerfile:1
# The gateway distribution, otelcol-copilot-gateway: a team's central
# collector. It has no embedded default configuration: give it one, mounted
# at /etc/otelcol-copilot-gateway/config.yaml, or pass --config.
#
#   docker build -f deploy/docker/gateway.Dockerfile -t otelcol-copilot-gateway .
#   docker run --rm -w / -v $PWD/examples:/examples:ro -e OTELCOL_COPILOT_STATE_DIR=/home/nonroot/state \
#     -p 4318:4318 otelcol-copilot-gateway --config /examples/ledger-gateway.yaml
#
# (-w /: the example names its mapping file relative to the repository's root.)
#
# deploy/docker's test runs this file's build command and checks the result.

FROM golang:1.26 AS build
WORKDIR /src
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/otelcol-copilot-gateway ./cmd/otelcol-copilot-gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/otelcol-copilot-gateway /otelcol-copilot-gateway
USER nonroot:nonroot
# OTLP gRPC and HTTP, the hook endpoint, Prometheus, the health check.
EXPOSE 4317 4318 4320 9464 13133
ENTRYPOINT ["/otelcol-copilot-gateway"]
CMD ["--config", "/etc/otelcol-copilot-gateway/config.yaml"]
