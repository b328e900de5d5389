# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies and the compiled proxy only.
FROM node:20-slim
ENV NODE_ENV=production
# ping and ss for the [ping] and [socket_stats] probes (Debian's ping has cap_net_raw, so the node user can run it).
RUN apt-get update && apt-get install -y --no-install-recommends iputils-ping iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
COPY schema ./schema
COPY docker/config.toml /etc/exporter-proxy/config.toml
RUN mkdir -p /run/exporter-proxy && chown node:node /run/exporter-proxy
USER node
# 6555: scrape endpoint (/metrics, /apps); 6554: TCP receiver.
EXPOSE 6555 6554
# The file itself, so the V8 flags on its first line apply.
ENTRYPOINT ["/app/bin/exporter-proxy.js"]
CMD ["--config", "/etc/exporter-proxy/config.toml"]
