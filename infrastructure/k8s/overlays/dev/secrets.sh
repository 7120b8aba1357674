#!/usr/bin/env bash
# Prints the Secrets of the dev overlay as YAML, with fresh random passwords, a fresh ES256 JWT
# pair, a fresh metrics token, and the Hardhat chain's development accounts #1 and #2 as the
# anchoring keys of payment and order. Nothing is stored in the repository. Run once per
# namespace (PostgreSQL and RabbitMQ keep the passwords they started with), from anywhere in
# the repository after `npm install`:
#   infrastructure/k8s/overlays/dev/secrets.sh | kubectl create -n ecom -f -
# ADMIN_EMAIL and ADMIN_PASSWORD may be set; otherwise admin@example.com and a random password
# (read it back with: kubectl get secret -n ecom auth-secrets -o jsonpath='{.data.admin-password}' | base64 -d).
set -euo pipefail
cd "$(dirname "$0")/../../../.."

random() { node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex'))"; }

keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
node -e "
  const { generateKeyPairSync } = require('node:crypto');
  const { writeFileSync } = require('node:fs');
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(process.argv[1] + '/private.pem', privateKey, { mode: 0o600 });
  writeFileSync(process.argv[1] + '/public.pem', publicKey);
" "$keys"

# The chain's development accounts: #0 deploys AuditAnchor (its first transaction, so the
# contract's address is known in advance), #1 and #2 anchor for payment and order.
read -r payment_key order_key contract < <(node -e "
  const { HDNodeWallet, Mnemonic, getCreateAddress } = require('ethers');
  const { HARDHAT_NETWORK_MNEMONIC } = require('hardhat/internal/core/config/default-config');
  const mnemonic = Mnemonic.fromPhrase(HARDHAT_NETWORK_MNEMONIC);
  const account = (i) => HDNodeWallet.fromMnemonic(mnemonic, \"m/44'/60'/0'/0/\" + i);
  console.log(account(1).privateKey, account(2).privateKey,
    getCreateAddress({ from: account(0).address, nonce: 0 }));
")

pg_password=$(random)
rabbit_password=$(random)
admin_password=${ADMIN_PASSWORD:-$(random)}
mongo() { echo "mongodb://mongodb-0.mongodb:27017/$1?replicaSet=rs0"; }
postgres() { echo "postgres://ecom:$pg_password@postgres:5432/$1"; }

secret() { # name, then --from-literal / --from-file arguments
  kubectl create secret generic "$1" "${@:2}" --dry-run=client -o yaml
  echo '---'
}

secret postgres-credentials --from-literal=password="$pg_password"
secret rabbitmq-credentials --from-literal=username=ecom --from-literal=password="$rabbit_password"
secret jwt-keys --from-file=private.pem="$keys/private.pem" --from-file=public.pem="$keys/public.pem"
secret platform-secrets \
  --from-literal=amqp-url="amqp://ecom:$rabbit_password@rabbitmq:5672" \
  --from-literal=redis-url="redis://redis:6379" \
  --from-literal=metrics-token="$(random)"
secret auth-secrets \
  --from-literal=mongo-url="$(mongo auth_db)" \
  --from-literal=admin-email="${ADMIN_EMAIL:-admin@example.com}" \
  --from-literal=admin-password="$admin_password"
secret product-secrets --from-literal=mongo-url="$(mongo product_db)"
secret comments-secrets --from-literal=mongo-url="$(mongo comments_db)"
secret payment-secrets \
  --from-literal=database-url="$(postgres payment_db)" \
  --from-literal=anchor-private-key="$payment_key"
secret order-secrets \
  --from-literal=database-url="$(postgres order_db)" \
  --from-literal=anchor-private-key="$order_key"
# Mail goes to the dev overlay's Mailpit (its inbox: kubectl port-forward svc/mailpit 8025).
secret notification-secrets \
  --from-literal=database-url="$(postgres notification_db)" \
  --from-literal=smtp-host=mailpit \
  --from-literal=smtp-port=1025
secret chain \
  --from-literal=rpc-url="http://hardhat:8545" \
  --from-literal=contract-address="$contract" \
  --from-literal=chain-id=31337
