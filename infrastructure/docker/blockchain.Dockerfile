# syntax=docker/dockerfile:1
# The Hardhat toolchain: `hardhat node` (the chain) and the one-shot contract deploy.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY infrastructure/package.json infrastructure/
COPY services/auth/package.json services/auth/
COPY services/product/package.json services/product/
COPY services/comments/package.json services/comments/
COPY services/payment/package.json services/payment/
COPY services/order/package.json services/order/
COPY gateway/package.json gateway/
COPY blockchain/package.json blockchain/
COPY platform/package.json platform/
RUN npm ci --no-audit --no-fund --ignore-scripts --workspace blockchain --workspace common
COPY tsconfig.base.json ./
COPY common common
# The deploy script imports the contract ABI from @ecom/common.
RUN npx tsc -b common
COPY blockchain blockchain
WORKDIR /app/blockchain
RUN npx hardhat compile
RUN chown -R node:node /app/blockchain
USER node
EXPOSE 8545
CMD ["npx", "hardhat", "node", "--hostname", "0.0.0.0", "--port", "8545"]
