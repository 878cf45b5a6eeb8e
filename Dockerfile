# syntax=docker/dockerfile:1
# herald: a static binary on a distroless base, running as a non-root user.
#   docker build -t herald .
#   docker run -p 8080:8080 -v herald-data:/data herald

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so source edits do not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary needs no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/herald ./cmd/herald \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/herald /herald
# The data directory must belong to the runtime user (nonroot, 65532) so
# that a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV HERALD_ADDR=0.0.0.0:8080 \
    HERALD_DATA_DIR=/data
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/herald"]
CMD ["serve"]
