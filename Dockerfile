# syntax=docker/dockerfile:1
# One image per talentmesh service, chosen by a build argument: SERVICE is a name from services.tsv
# (identity, company, job, resume, matching, sync, gateway) and the image runs its binary
# talentmesh-<SERVICE> as the unprivileged user 65532 on Debian 12 slim (ca-certificates added;
# the binaries link only glibc, libm and libgcc_s, which the base has).
#
#   From source (default target, builder stage on the official Rust image; BuildKit):
#     docker build --build-arg SERVICE=identity -t REGISTRY/talentmesh/identity:TAG .
#   From a binary built on the host (target `prebuilt`; the build context is a folder holding
#   talentmesh-<SERVICE>, no Rust image needed):
#     docker build --target prebuilt --build-arg SERVICE=identity -f Dockerfile -t ... DIR
#   dev/image.sh does the second with buildah (docs/images.md).
#
# The services read everything from TALENTMESH_* variables (README, Configuration). They listen on
# 127.0.0.1 unless told otherwise, so a container needs at least TALENTMESH_GRPC_ADDR and
# TALENTMESH_METRICS_ADDR (the gateway: TALENTMESH_GATEWAY_HTTP_ADDR) on 0.0.0.0.

# Overridable, e.g. for a registry mirror; the defaults are the public images.
ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---- builder: the service's release binary, built from the build context (the repository).
FROM ${RUST_IMAGE} AS builder
ARG SERVICE
# The commit being built, for the binary's build info when the build script cannot ask git (the
# context has no .git) and for the image label.
ARG REVISION=unknown
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io downloads and the target dir between builds of the seven
# services; the binary is copied out of the cache before the step ends. Debug sections (release
# keeps line tables for backtraces) are compressed, which more than halves the binary.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<name from services.tsv>" >&2; exit 1; }; \
    TALENTMESH_REVISION="$REVISION" cargo build --release --locked \
      -p "talentmesh-$SERVICE" --bin "talentmesh-$SERVICE" \
    && mkdir -p /out \
    && objcopy --compress-debug-sections=zlib "target/release/talentmesh-$SERVICE" "/out/talentmesh-$SERVICE"

# ---- runtime: what every service image shares.
FROM ${RUNTIME_IMAGE} AS runtime
# CA certificates for TLS to managed stores and Consul; the user the services run as (the uid
# distroless images and the Helm chart's securityContext use).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot
ARG SERVICE
ARG REVISION=unknown
# One entrypoint path for every service; `ps` and logs still name the service through the target.
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<name from services.tsv>" >&2; exit 1; }; \
    ln -s "talentmesh-$SERVICE" /usr/local/bin/talentmesh
LABEL org.opencontainers.image.title="talentmesh-${SERVICE}" \
      org.opencontainers.image.description="talentmesh ${SERVICE} service" \
      org.opencontainers.image.revision="${REVISION}" \
      io.talentmesh.service="${SERVICE}"
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/usr/local/bin/talentmesh"]

# ---- prebuilt: the binary from the build context (a folder holding talentmesh-<SERVICE>).
FROM runtime AS prebuilt
ARG SERVICE
COPY --chmod=0755 talentmesh-${SERVICE} /usr/local/bin/talentmesh-${SERVICE}

# ---- image (default target): the binary from the builder stage.
FROM runtime AS image
ARG SERVICE
COPY --from=builder --chmod=0755 /out/talentmesh-${SERVICE} /usr/local/bin/talentmesh-${SERVICE}
