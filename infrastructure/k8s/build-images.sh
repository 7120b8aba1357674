#!/usr/bin/env bash
# Builds the platform's images from the repository root: one per service and the gateway from
# infrastructure/docker/service.Dockerfile (SERVICE_DIR picks the workspace, as in
# docker-compose.yml), and the Hardhat toolchain for the dev overlay's chain.
#   infrastructure/k8s/build-images.sh                      # ecom-auth:dev ... (dev overlay)
#   IMAGE_PREFIX=registry.example.com/ecom/ TAG=0.1.0 PUSH=1 infrastructure/k8s/build-images.sh
# The names are the manifests' (ecom-<name>); an overlay's `images:` maps them to yours.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${IMAGE_PREFIX:-ecom-}
tag=${TAG:-dev}

# image name = workspace
IMAGES=(
  auth=services/auth
  product=services/product
  comments=services/comments
  payment=services/payment
  order=services/order
  notification=services/notification
  gateway=gateway
)

for entry in "${IMAGES[@]}"; do
  name=${entry%%=*}
  docker build -f infrastructure/docker/service.Dockerfile \
    --build-arg SERVICE_DIR="${entry#*=}" -t "$prefix$name:$tag" .
  if [ "${PUSH:-0}" = 1 ]; then docker push "$prefix$name:$tag"; fi
done
docker build -f infrastructure/docker/blockchain.Dockerfile -t "${prefix}blockchain:$tag" .
if [ "${PUSH:-0}" = 1 ]; then docker push "${prefix}blockchain:$tag"; fi
echo "built ${prefix}{auth,product,comments,payment,order,notification,gateway,blockchain}:$tag"
