# syntax=docker/dockerfile:1
# The laptop distribution, otelcol-copilot, on its embedded default
# configuration: build from the repository's root with
#
#   docker build -f deploy/docker/laptop.Dockerfile -t otelcol-copilot .
#
# It reads the transcripts under $COPILOT_HOME (mount the user's ~/.copilot
# at /home/nonroot/.copilot) and keeps its state under
# /home/nonroot/.local/state/otelcol-copilot (mount a volume there).
# deploy/docker's test runs this file's build command and checks the result.

FROM golang:1.26 AS build
WORKDIR /src
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/otelcol-copilot ./cmd/otelcol-copilot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/otelcol-copilot /otelcol-copilot
USER nonroot:nonroot
# The hook endpoint, the health check.
EXPOSE 4320 13133
ENTRYPOINT ["/otelcol-copilot"]
