# hoard in a container: docker build -t hoard . && docker run -v hoard-data:/var/lib/hoard \
#   -p 8080:8080 -p 9092:9092 --stop-timeout 40 hoard [more hoard serve flags, e.g. --max-size 50GiB]
#
# The build stage packs hoard exactly as npm users get it (npm pack: tsc into dist/); the
# final stage installs that tarball with its production dependencies only, on a slim Node 24.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /tmp && mv /tmp/hoard-*.tgz /tmp/hoard.tgz

FROM node:24-bookworm-slim
COPY --from=build /tmp/hoard.tgz /tmp/hoard.tgz
RUN npm install --global --omit=dev --no-audit --no-fund /tmp/hoard.tgz \
  && rm /tmp/hoard.tgz \
  && npm cache clean --force
# A numeric, non-root user (so Kubernetes' runAsNonRoot can check it) that owns the store
# directory before it becomes a volume: a new named volume starts with that owner.
RUN groupadd --system --gid 10001 hoard \
  && useradd --system --uid 10001 --gid hoard --home-dir /var/lib/hoard --shell /usr/sbin/nologin hoard \
  && mkdir -p /var/lib/hoard \
  && chown hoard:hoard /var/lib/hoard \
  && chmod 0750 /var/lib/hoard
USER 10001:10001
WORKDIR /var/lib/hoard
VOLUME /var/lib/hoard
# HTTP (Bazel HTTP, ccache, Turborepo, Nx, Gradle, sccache, /metrics, /readyz) and gRPC (REAPI).
EXPOSE 8080 9092
# SIGTERM drains: in-flight uploads get up to --drain-timeout (30 s) to finish and nothing
# partial is published; give `docker stop` more than that (--stop-timeout 40, or -t 40).
STOPSIGNAL SIGTERM
# /readyz answers 503 while draining, and nothing once stopped. Slim images have no curl:
# Node's fetch checks it. With --tls-cert-file, make this https:// and trust the CA.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Flags given to `docker run ... hoard` come after these and win over them; every other
# option can also be a HOARD_* variable (-e HOARD_MAX_SIZE=50GiB) or come from --config.
# hoard is PID 1 and handles SIGTERM and SIGINT itself.
ENTRYPOINT ["hoard", "serve", "--dir", "/var/lib/hoard", "--http-address", "0.0.0.0:8080", "--grpc-address", "0.0.0.0:9092"]
CMD []
