# The three programs in one small image, for docker-compose.yml. Not exercised in CI.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY broker ./broker
COPY client ./client
COPY server-pool ./server-pool
COPY scripts/finish-build.mjs ./scripts/
# tsc, the dashboard's script check, and its browser files copied into dist/.
# The programs run as files, so that their #! line (node and its flags) is honoured.
RUN npm run build

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# One image, three commands: ./dist/broker/main.js, ./dist/server-pool/main.js, ./dist/client/main.js
# (run as files, not as `node FILE`: their #! line carries the node flags).
CMD ["./dist/broker/main.js", "--help"]
