# syntax=docker/dockerfile:1
# One multi-stage image recipe for every service and the gateway:
#   docker build -f infrastructure/docker/service.Dockerfile --build-arg SERVICE_DIR=services/auth .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first so the dependency layer is cached until a manifest changes.
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY common/package.json common/
COPY infrastructure/package.json infrastructure/
COPY services/auth/package.json services/auth/
COPY services/product/package.json services/product/
COPY services/comments/package.json services/comments/
COPY services/payment/package.json services/payment/
COPY services/order/package.json services/order/
COPY services/notification/package.json services/notification/
COPY gateway/package.json gateway/
COPY blockchain/package.json blockchain/
COPY platform/package.json platform/
COPY audit-web/package.json audit-web/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY common common
COPY services services
COPY gateway gateway
ARG SERVICE_DIR
RUN test -n "$SERVICE_DIR" && npx tsc -b "$SERVICE_DIR"
# The gateway serves the audit explorer (/audit): built here with Vite, everything bundled. It
# reuses the independent verifier and monitor of blockchain/src. Other images get an empty dir.
COPY blockchain/src blockchain/src
COPY audit-web/index.html audit-web/vite.config.mts audit-web/tsconfig.json audit-web/
COPY audit-web/src audit-web/src
RUN rm -rf audit-web/dist && mkdir -p audit-web/dist && \
    if [ "$SERVICE_DIR" = gateway ]; then npm run build --workspace audit-web; fi

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/common/package.json common/
COPY --from=build /app/infrastructure/package.json infrastructure/
COPY --from=build /app/services services
COPY --from=build /app/gateway/package.json gateway/
COPY --from=build /app/blockchain/package.json blockchain/
COPY --from=build /app/platform/package.json platform/
COPY --from=build /app/audit-web/package.json audit-web/
ARG SERVICE_DIR
# Production dependencies of this one workspace only (bcrypt ships prebuilt binaries).
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --workspace "$SERVICE_DIR"

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
ARG SERVICE_DIR
ENV SERVICE_DIR=${SERVICE_DIR}
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/common/package.json common/package.json
COPY --from=build /app/common/dist common/dist
COPY --from=build /app/${SERVICE_DIR}/package.json ${SERVICE_DIR}/package.json
COPY --from=build /app/${SERVICE_DIR}/dist ${SERVICE_DIR}/dist
COPY --from=build /app/audit-web/dist audit-web/dist
USER node
CMD ["sh", "-c", "exec node --enable-source-maps \"$SERVICE_DIR/dist/main.js\""]
