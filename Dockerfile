# The three programs in one small image, for docker-compose.yml. Not exercised in CI.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY broker ./broker
COPY client ./client
COPY server-pool ./server-pool
COPY scripts/copy-dashboard.mjs ./scripts/
# tsc, the dashboard's script check, and its browser files copied into dist/.
RUN npm run build

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# One image, three commands: node dist/broker/main.js, dist/server-pool/main.js, dist/client/main.js.
CMD ["node", "dist/broker/main.js", "--help"]
