# syntax=docker/dockerfile:1
# airlock container image: TypeScript built in one stage, a production-only runtime in the next.

# ---- build: compile src/ to dist/ ----------------------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" runs tsc, and src/ is not copied yet (keeps this layer cached
# across source edits). No dependency has an install script of its own.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: dist + production dependencies, non-root -------------------------------------
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    AIRLOCK_HEALTH_URL=http://127.0.0.1:9480/healthz
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would run tsc, which --omit=dev leaves out.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY policy.example.yaml ./
# State (audit log, signing key, users file) lives under /var/lib/airlock; mount a volume there.
RUN mkdir -p /etc/airlock /var/lib/airlock/audit /var/lib/airlock/keys && chown -R node:node /var/lib/airlock && chmod 700 /var/lib/airlock/keys
USER node
VOLUME ["/var/lib/airlock"]
# PostgreSQL clients, MySQL clients, admin HTTP (health, metrics, approvals API).
EXPOSE 15432 13306 9480
# node:20-slim has no curl or wget; Node 20's fetch does the probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.AIRLOCK_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/airlock"]
CMD ["start", "--config", "/etc/airlock/airlock.yaml"]
