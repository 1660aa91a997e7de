# syntax=docker/dockerfile:1
# The tokentrail collector image: otelcol-tokentrail built with ocb from deploy/otelcol-builder.yaml.
# Build from the repository root:  docker build -f deploy/collector.Dockerfile -t tokentrail/otelcol .
# Keep OCB_VERSION equal to deploy/build-stack.sh's (tests/stack/test_deploy.py checks it).

FROM golang:1.25-alpine AS build
ARG OCB_VERSION=v0.161.0
ENV CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
RUN go install go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}
WORKDIR /build
COPY deploy/otelcol-builder.yaml ./
RUN builder --config otelcol-builder.yaml --ldflags "-s -w" \
    && ./otelcol-tokentrail/otelcol-tokentrail --version

FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 otelcol \
    && mkdir -p /var/lib/otelcol/tokentrail \
    && chown 10001:10001 /var/lib/otelcol/tokentrail
COPY --from=build /build/otelcol-tokentrail/otelcol-tokentrail /usr/local/bin/otelcol-tokentrail
COPY collector-config.yaml /etc/otelcol/config.yaml
COPY deploy/collector-jaeger-no-content.yaml /etc/otelcol/jaeger-no-content.yaml
USER 10001
# OTLP gRPC, OTLP HTTP, health check, own metrics, the applications' metrics (Prometheus)
EXPOSE 4317 4318 13133 8888 8889
VOLUME ["/var/lib/otelcol/tokentrail"]
ENTRYPOINT ["/usr/local/bin/otelcol-tokentrail"]
CMD ["--config", "/etc/otelcol/config.yaml"]
