# Casusbord server image: builds the client once at image build, runs the server as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production CLIENT_BUILD=off DATA_DIR=/data PORT=3000
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
# Liveness: the process runs and answers. A restart does not help while Redis or the disk is
# away, so readiness (/healthz/ready) is for load balancers, not for this check.
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/healthz/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# One GC thread: see "Garbage collection on one thread" in docs/PERFORMANCE.md.
CMD ["node", "--single-threaded-gc", "--import", "tsx", "server/index.ts"]
