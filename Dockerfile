# syntax=docker/dockerfile:1
# The gateway's image: built on Debian bookworm (the libxmlsec1 the gateway
# links against), run as a non-root user on a read-only root filesystem. The
# Helm chart (helm/sso-gateway) mounts the configuration at /etc/sso-gateway
# and the metadata cache, the only folder the gateway writes, at
# /var/cache/sso-gateway.
#
#   docker build -t sso-gateway:0.1.0 .

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libclang-dev libxmlsec1-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sso-gateway --bin sso-gateway \
 && install -D -m 0755 target/release/sso-gateway /out/sso-gateway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libxmlsec1 libxmlsec1-openssl libxml2 libxslt1.1 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sso \
 && useradd --system --uid 10001 --gid sso --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin sso \
 && install -d -o sso -g sso -m 0750 /var/cache/sso-gateway
COPY --from=build /out/sso-gateway /usr/local/bin/sso-gateway
USER 10001:10001
EXPOSE 8080 9100
ENTRYPOINT ["/usr/local/bin/sso-gateway"]
CMD ["serve", "--config", "/etc/sso-gateway/gateway.toml"]
