# syntax=docker/dockerfile:1

# The toolchain this tree is built and tested with; trixie, the same Debian (and glibc) as
# the runtime stage below.
FROM rust:1.95.0-slim-trixie AS build
WORKDIR /src
COPY . .
# The crate registry and the target directory live in BuildKit caches, so a rebuild
# downloads nothing it already has and recompiles only what changed. Crates are the only
# downloads: templates, assets and migrations are in the tree and compiled in.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -D -m 0755 target/release/doorman /out/doorman

FROM debian:trixie-slim
LABEL org.opencontainers.image.title="doorman" \
      org.opencontainers.image.description="Invite people by email and admit them to a Discord server only once they prove who they are." \
      org.opencontainers.image.licenses="MIT"
# ca-certificates: PostgreSQL TLS (DB_SSL=true, sslmode=verify-full) trusts the system's CA
# store, which holds the public CAs of managed databases such as Azure's. Unpinned on
# purpose: each build takes Debian's current security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 doorman \
    && useradd --system --uid 10001 --gid doorman --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin doorman \
    && install -d -o doorman -g doorman -m 0700 /data
COPY --from=build /out/doorman /usr/local/bin/doorman
COPY --chmod=0755 deploy/healthcheck /usr/local/bin/doorman-healthcheck

# The SQLite file (when DATABASE_URL is unset) and the generated secrets live in /data.
ENV BIND_ADDR=0.0.0.0:8000 \
    DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
# Numeric, so orchestrators can tell the user is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# GET /health through bash's /dev/tcp: no HTTP client in the image just for this.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["doorman-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["doorman"]
CMD ["serve"]
