# linewatch gateway and simulators (one image; the command picks the role).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# tini as PID 1: it forwards signals to the gateway (a clean `docker stop` flushes the stores)
# and reaps zombies; the gateway itself is then not PID 1.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# Two glibc malloc arenas instead of one per thread (the gateway runs four threads and their
# helpers): less RSS at 100,000 characteristics (about 100 MiB once, 20 MiB after start with
# today's build; docs/architecture.md), no cost in CPU measured.
ENV MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/config ./config
COPY --from=build /app/docker ./docker
COPY --from=build /app/simulators/scenarios ./simulators/scenarios
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 1883
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/linewatch.js"]
CMD ["start", "--config", "docker/linewatch.yaml", "--json-logs"]
