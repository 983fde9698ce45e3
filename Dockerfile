# syntax=docker/dockerfile:1
# The ledger CLI in a small Debian image: `docker build -t ledger .`, then
# `docker run --rm -e DATABASE_URL=… ledger report portfolio`, or `docker compose up`.

# ---- build -----------------------------------------------------------------------------
# The package's tools version is 6.0; pass a newer toolchain with
# `--build-arg SWIFT_IMAGE=swift:6.x-bookworm` if the code comes to need one.
ARG SWIFT_IMAGE=swift:6.0-bookworm
FROM ${SWIFT_IMAGE} AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
# Dependencies first, so that a change to our sources does not fetch them again.
COPY Package.* ./
RUN swift package resolve

COPY . .
RUN swift build -c release --product ledger --static-swift-stdlib \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/ledger" /staging/ledger

# ---- runtime ---------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --home-dir /app --shell /usr/sbin/nologin ledger

WORKDIR /app
COPY --from=build /staging/ledger /usr/local/bin/ledger
COPY Schema/ /app/Schema/
ENV LEDGER_SCHEMA_DIR=/app/Schema

USER ledger
ENTRYPOINT ["ledger"]
CMD ["--help"]
