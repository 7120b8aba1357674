"""Generates collection.json and environment.json (Postman v2.1). Edit here, then run
`python3 docs/postman/build.py`; both outputs are committed so Postman users need nothing else."""
import json, uuid, os

HERE = os.path.dirname(os.path.abspath(__file__))

def js(*lines):
    return [l for l in lines]

def test(name, *lines):
    return {"listen": "test", "script": {"type": "text/javascript", "exec": list(lines)}}

def prereq(*lines):
    return {"listen": "prerequest", "script": {"type": "text/javascript", "exec": list(lines)}}

def req(name, method, path, body=None, auth=None, tests=(), pre=(), headers=()):
    h = [{"key": "Content-Type", "value": "application/json"}] if body is not None else []
    if auth:
        h.append({"key": "Authorization", "value": "Bearer {{" + auth + "}}"})
    h.extend(headers)
    raw_url = "{{baseUrl}}" + path
    path_only, _, query = path.partition("?")
    url = {"raw": raw_url, "host": ["{{baseUrl}}"], "path": [p for p in path_only.strip("/").split("/")]}
    if query:
        url["query"] = [{"key": kv.split("=")[0], "value": kv.split("=", 1)[1]} for kv in query.split("&")]
    item = {"name": name, "request": {"method": method, "header": h, "url": url}, "event": []}
    if body is not None:
        item["request"]["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2), "options": {"raw": {"language": "json"}}}
    if pre:
        item["event"].append(prereq(*pre))
    if tests:
        item["event"].append(test(name, *tests))
    return item

def status(code):
    return f"pm.test('status is {code}', () => pm.response.to.have.status({code}));"

ERROR_SHAPE = "pm.test('error in the common shape', () => { const e = pm.response.json().error; pm.expect(e.code).to.be.a('string'); pm.expect(e.message).to.be.a('string'); });"

ADDRESS = {"name": "Postman Tester", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}

# Polls the same request (setNextRequest to itself) until a condition holds, at most N times.
def poll(var, cond, what, tries=150):
    return [
        f"const n = Number(pm.collectionVariables.get('{var}') || 0);",
        f"const done = (() => {{ try {{ return {cond}; }} catch (e) {{ return false; }} }})();",
        f"if (!done && n < {tries}) {{ pm.collectionVariables.set('{var}', n + 1); postman.setNextRequest(pm.info.requestName); return; }}",
        f"pm.collectionVariables.set('{var}', 0);",
        f"pm.test('{what}', () => pm.expect(done).to.equal(true));",
    ]

items = [
    {"name": "0. Platform", "item": [
        req("Gateway health", "GET", "/health", tests=[status(200),
            "pm.test('every service is up', () => Object.values(pm.response.json().upstreams || pm.response.json().services || {}).forEach(s => pm.expect(s.status).to.equal('up')));"]),
    ]},
    {"name": "1. Auth", "item": [
        req("Register a customer", "POST", "/api/auth/register",
            body={"email": "{{customerEmail}}", "password": "{{customerPassword}}", "name": "Postman Tester"},
            pre=["pm.collectionVariables.set('customerEmail', `postman-${Date.now()}@example.com`);",
                 "pm.collectionVariables.set('customerPassword', 'Postman#2026demo');"],
            tests=[status(201),
                   "const b = pm.response.json();",
                   "pm.test('returns the user without its hash', () => { pm.expect(b.user.email).to.equal(pm.collectionVariables.get('customerEmail')); pm.expect(JSON.stringify(b)).not.to.include('passwordHash'); });",
                   "pm.collectionVariables.set('customerToken', b.accessToken);"]),
        req("Register the same email again (409)", "POST", "/api/auth/register",
            body={"email": "{{customerEmail}}", "password": "{{customerPassword}}", "name": "Again"},
            tests=[status(409), ERROR_SHAPE]),
        req("Login", "POST", "/api/auth/login", body={"email": "{{customerEmail}}", "password": "{{customerPassword}}"},
            tests=[status(200), "const b = pm.response.json();",
                   "pm.test('returns an access and a refresh token', () => { pm.expect(b.accessToken).to.be.a('string'); pm.expect(b.refreshToken).to.be.a('string'); });",
                   "pm.collectionVariables.set('customerToken', b.accessToken);",
                   "pm.collectionVariables.set('refreshToken', b.refreshToken);"]),
        req("Refresh (rotates the refresh token)", "POST", "/api/auth/refresh", body={"refreshToken": "{{refreshToken}}"},
            tests=[status(200), "const b = pm.response.json();",
                   "pm.test('a new refresh token', () => pm.expect(b.refreshToken).not.to.equal(pm.collectionVariables.get('refreshToken')));",
                   "pm.collectionVariables.set('customerToken', b.accessToken);"]),
        req("Profile", "GET", "/api/auth/profile", auth="customerToken",
            tests=[status(200), "pm.test('is my profile', () => pm.expect(JSON.stringify(pm.response.json())).to.include(pm.collectionVariables.get('customerEmail')));"]),
        req("A protected route without a token (401)", "GET", "/api/orders", tests=[status(401), ERROR_SHAPE]),
        req("Login as the demo seller", "POST", "/api/auth/login", body={"email": "{{sellerEmail}}", "password": "{{sellerPassword}}"},
            tests=[status(200), "pm.collectionVariables.set('sellerToken', pm.response.json().accessToken);"]),
    ]},
    {"name": "2. Catalog", "item": [
        req("Browse products", "GET", "/api/products?limit=5&sort=price", tests=[status(200),
            "const b = pm.response.json();",
            "pm.test('a page of products with a total', () => { pm.expect(b.items.length).to.be.above(0); pm.expect(b.total).to.be.at.least(b.items.length); });",
            "pm.test('sorted by price', () => { const p = b.items.map(i => i.price); pm.expect(p).to.eql([...p].sort((x, y) => x - y)); });"]),
        req("Categories", "GET", "/api/products/categories", tests=[status(200)]),
        req("Create a product (seller)", "POST", "/api/products", auth="sellerToken",
            body={"name": "Postman Mug", "description": "A mug for API testers", "price": 12.5, "inventory": 20, "category": "kitchen"},
            tests=[status(201), "const b = pm.response.json();",
                   "pm.test('exact price', () => pm.expect(b.price).to.equal(12.5));",
                   "pm.collectionVariables.set('productId', b.id);"]),
        req("Get the product", "GET", "/api/products/{{productId}}", tests=[status(200),
            "pm.test('20 in stock', () => pm.expect(pm.response.json().inventory.available).to.equal(20));"]),
        req("A malformed product id (404)", "GET", "/api/products/not-an-id", tests=[status(404), ERROR_SHAPE]),
        req("Search", "GET", "/api/products?q=mug", tests=[status(200),
            "pm.test('finds the mug', () => pm.expect(pm.response.json().items.map(i => i.name)).to.include('Postman Mug'));"]),
    ]},
    {"name": "3. Order saga", "item": [
        req("Place an order (tok_visa)", "POST", "/api/orders", auth="customerToken",
            headers=[{"key": "Idempotency-Key", "value": "{{orderKey}}"}],
            pre=["pm.collectionVariables.set('orderKey', `postman-${Date.now()}`);"],
            body={"items": [{"productId": "{{productId}}", "quantity": 2}], "payment": {"method": "card", "token": "tok_visa"}, "shippingAddress": ADDRESS},
            tests=[status(201), "const b = pm.response.json();",
                   "pm.test('PENDING with an exact total', () => { pm.expect(b.status).to.equal('PENDING'); pm.expect(b.total.amount).to.equal(2500); });",
                   "pm.collectionVariables.set('orderId', b.id);"]),
        req("Follow the order to CONFIRMED", "GET", "/api/orders/{{orderId}}", auth="customerToken",
            tests=[*poll("pollOrder", "pm.response.json().status === 'CONFIRMED'", "order is CONFIRMED"), status(200)]),
        req("Order history", "GET", "/api/orders/{{orderId}}/history", auth="customerToken",
            tests=[status(200), "pm.test('records every transition', () => pm.expect(JSON.stringify(pm.response.json())).to.include('CONFIRMED'));"]),
        req("Stock was sold", "GET", "/api/products/{{productId}}",
            tests=[status(200), "pm.test('18 left', () => pm.expect(pm.response.json().inventory.available).to.equal(18));"]),
        req("Payments of the order", "GET", "/api/payments/order/{{orderId}}", auth="customerToken",
            tests=[status(200), "const b = pm.response.json(); const list = Array.isArray(b) ? b : (b.items || (b.payment ? [b.payment] : [b]));",
                   "pm.test('one completed payment', () => pm.expect(list.filter(p => p.status === 'COMPLETED').length).to.equal(1));",
                   "pm.collectionVariables.set('paymentId', list[0].id);"]),
    ]},
    {"name": "4. Blockchain", "item": [
        req("The order's anchors (wait until anchored)", "GET", "/api/blockchain/order/{{orderId}}", auth="customerToken",
            tests=["const b = pm.response.json(); const recs = b.records || [];",
                   *poll("pollAnchor", "recs.length > 0 && recs.every(r => r.status === 'verified' || r.status === 'anchored')", "every record is anchored"),
                   status(200),
                   "const r = recs.find(x => x.receipt && x.receipt.txHash) || {};",
                   "if (r.receipt) pm.collectionVariables.set('txHash', r.receipt.txHash);",
                   "pm.test('a record carries a Merkle proof and a tx hash', () => { pm.expect(r.receipt.proof).to.be.an('array'); pm.expect(r.receipt.txHash).to.match(/^0x[0-9a-f]{64}$/); });"]),
        req("Verify the anchoring transaction", "GET", "/api/blockchain/verify/{{txHash}}", auth="customerToken",
            tests=[status(200), "pm.test('lists matching records', () => { const b = pm.response.json(); pm.expect((b.records || []).length).to.be.above(0); pm.expect(b.records.every(r => r.status !== 'tampered')).to.equal(true); });"]),
        req("The payment's anchors", "GET", "/api/blockchain/payment/{{paymentId}}", auth="customerToken",
            tests=[status(200)]),
    ]},
    {"name": "5. Cancel and review", "item": [
        req("Cancel the order (refund and restock)", "PUT", "/api/orders/{{orderId}}/cancel", auth="customerToken", body={},
            tests=[status(200), "pm.test('CANCELLED', () => pm.expect(pm.response.json().status).to.equal('CANCELLED'));"]),
        req("Stock is back", "GET", "/api/products/{{productId}}",
            tests=[*poll("pollStock", "pm.response.json().inventory.available === 20", "20 in stock again"), status(200)]),
        req("Review the product", "POST", "/api/comments", auth="customerToken",
            body={"productId": "{{productId}}", "rating": 5, "text": "Holds coffee and test results."},
            tests=[status(201), "pm.test('the comment itself', () => pm.expect(pm.response.json().rating).to.equal(5));",
                   "pm.collectionVariables.set('commentId', pm.response.json().id);"]),
        req("A second review by the same user (409)", "POST", "/api/comments", auth="customerToken",
            body={"productId": "{{productId}}", "rating": 1, "text": "Changed my mind."}, tests=[status(409), ERROR_SHAPE]),
        req("Reviews of the product", "GET", "/api/comments/product/{{productId}}",
            tests=[status(200), "pm.test('a page with my review', () => { const page = pm.response.json(); pm.expect(page.total).to.be.at.least(1); pm.expect(page.items.map(c => c.id)).to.include(pm.collectionVariables.get('commentId')); });"]),
    ]},
]

collection = {
    "info": {
        "_postman_id": "5b0f2d3e-6c1a-4a57-9d0e-ecom00000001",
        "name": "E-commerce platform",
        "description": "The full flow through the gateway: register, login, browse, create a product, order, follow it to CONFIRMED, read and verify its anchor, cancel, review. Import with environment.json; run with `npm run test:postman` (starts the platform) or newman against a running `npm start`.",
        "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    "item": items,
    "variable": [{"key": k, "value": ""} for k in ["customerEmail", "customerPassword", "customerToken", "refreshToken", "sellerToken", "productId", "orderKey", "orderId", "paymentId", "txHash", "commentId", "pollOrder", "pollAnchor", "pollStock"]],
}
environment = {
    "id": "5b0f2d3e-6c1a-4a57-9d0e-ecom00000002",
    "name": "E-commerce local (npm start)",
    "values": [
        {"key": "baseUrl", "value": "http://localhost:3000", "enabled": True},
        {"key": "sellerEmail", "value": "seller@example.com", "enabled": True},
        {"key": "sellerPassword", "value": "Seller#2026demo", "enabled": True},
    ],
    "_postman_variable_scope": "environment",
}
with open(os.path.join(HERE, "collection.json"), "w") as f:
    json.dump(collection, f, indent=2); f.write("\n")
with open(os.path.join(HERE, "environment.json"), "w") as f:
    json.dump(environment, f, indent=2); f.write("\n")
