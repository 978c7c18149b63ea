# syntax=docker/dockerfile:1
#
# IMS image: a static binary (CGO_ENABLED=0; the embedded SQLite driver is
# pure Go) on distroless/static, which carries CA certificates, tzdata and a
# non-root user (65532) and nothing else: no shell, no package manager.
#
#   docker build -t ims --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 8080:8080 -e WEBHOOK_URL=... -e WEBHOOK_AUTH_KEY=... -e API_KEY=... ims

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ims ./cmd/ims \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
# /data is where the embedded SQLite database lives when DATABASE_URL is not
# set; distroless has no shell to create it, so it is copied in, owned by the
# non-root user.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/ims /usr/local/bin/ims
WORKDIR /data
ENV SQLITE_PATH=/data/ims.db \
    SERVER_PORT=8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ims"]
CMD ["serve"]
