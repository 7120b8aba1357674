#!/usr/bin/env bash
# The README's curl walkthrough as one script: the full flow through the gateway of a running
# platform (npm start). The smoke test runs it too, so every command here works as written.
#   bash docs/walkthrough.sh            # against http://localhost:3000
set -euo pipefail
API=${API:-http://localhost:3000}
cd "$(dirname "$0")/.." # the repository root: step 9 uploads docs/postman/sample-image.png
# Pulls a field out of a JSON answer with Node (installed anyway): ... | json .user.id
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=eval("JSON.parse(s)"+process.argv[1]);console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }

# 1. Register a customer (or log in as the demo customer: customer@example.com / Customer#2026demo)
RUN=$(date +%s%N)
EMAIL="walker-$RUN@example.com"
TOKEN=$(curl -sf -X POST "$API/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"Walk#through2026\",\"name\":\"Walker\"}" | json .accessToken)
echo "registered $EMAIL"

# 2. Browse: the cheapest products in stock, then one product
PRODUCT=$(curl -sf "$API/api/products?inStock=true&sort=price&limit=3" | json '.items[0].id')
curl -sf "$API/api/products/$PRODUCT" | json '.name'

# 3. Order two of it, paying with the mock gateway's test card
ORDER=$(curl -sf -X POST "$API/api/orders" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -H "idempotency-key: walk-$RUN" \
  -d "{\"items\":[{\"productId\":\"$PRODUCT\",\"quantity\":2}],
       \"payment\":{\"method\":\"card\",\"token\":\"tok_visa\"},
       \"shippingAddress\":{\"name\":\"Walker\",\"line1\":\"1 Main St\",\"city\":\"Springfield\",\"postalCode\":\"12345\",\"country\":\"US\"}}" \
  | json .id)
echo "order $ORDER placed"

# 4. Follow the saga: PENDING -> CONFIRMED (stock reserved, card charged)
for _ in $(seq 1 50); do
  STATUS=$(curl -sf "$API/api/orders/$ORDER" -H "authorization: Bearer $TOKEN" | json .status)
  [ "$STATUS" = CONFIRMED ] && break
  sleep 0.2
done
echo "order is $STATUS"
[ "$STATUS" = CONFIRMED ]
curl -sf "$API/api/orders/$ORDER/history" -H "authorization: Bearer $TOKEN" | json '.history.map(h => h.to).join(" -> ")'

# 5. The confirmation e-mail: each notification with its attempts (npm start's inbox: http://127.0.0.1:8025)
for _ in $(seq 1 50); do
  KINDS=$(curl -sf "$API/api/notifications" -H "authorization: Bearer $TOKEN" | json '.items.map(n => n.kind).join(" ")')
  case "$KINDS" in *order_confirmed*) break ;; esac
  sleep 0.2
done
echo "notifications: $KINDS"
[[ "$KINDS" == *order_confirmed* ]]

# 6. Cancel it: the payment is refunded and the stock released
curl -sf -X PUT "$API/api/orders/$ORDER/cancel" -H "authorization: Bearer $TOKEN" | json .status

# 7. Review the product
curl -sf -X POST "$API/api/comments" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"productId\":\"$PRODUCT\",\"rating\":5,\"text\":\"Arrived quickly, works well.\"}" | json .rating
# 8. A cart: fill it as a guest, sign in and merge it, check out once (the saga takes it from there)
CART=$(curl -sf -X POST "$API/api/carts/guest" | json .cartToken)
curl -sf -X POST "$API/api/carts/mine/items" -H "x-cart-token: $CART" -H 'content-type: application/json' \
  -d "{\"productId\":\"$PRODUCT\",\"quantity\":1}" | json .total
curl -sf -X POST "$API/api/carts/mine/merge" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"cartToken\":\"$CART\"}" | json .itemCount
CART_ORDER=$(curl -sf -X POST "$API/api/carts/mine/checkout" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -H "idempotency-key: cart-$RUN" \
  -d '{"payment":{"method":"card","token":"tok_visa"},
       "shippingAddress":{"name":"Walker","line1":"1 Main St","city":"Springfield","postalCode":"12345","country":"US"}}' \
  | json .id)
for _ in $(seq 1 50); do
  STATUS=$(curl -sf "$API/api/orders/$CART_ORDER" -H "authorization: Bearer $TOKEN" | json .status)
  [ "$STATUS" = CONFIRMED ] && break
  sleep 0.2
done
echo "cart order is $STATUS"
[ "$STATUS" = CONFIRMED ]

# 9. As the demo seller: a product with a photo (checked by its content, metadata stripped, resized)
SELLER=$(curl -sf -X POST "$API/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"seller@example.com","password":"Seller#2026demo"}' | json .accessToken)
LAMP=$(curl -sf -X POST "$API/api/products" -H "authorization: Bearer $SELLER" -H 'content-type: application/json' \
  -d '{"name":"Walkthrough lamp","price":19.99,"inventory":5}' | json .id)
curl -sf -X POST "$API/api/products/$LAMP/images" -H "authorization: Bearer $SELLER" \
  -H 'content-type: image/png' --data-binary @docs/postman/sample-image.png | json .variants.thumb.url
echo "walkthrough complete"
