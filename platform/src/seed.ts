import { DEMO_ACCOUNTS } from './demo';

type Urls = { auth: string; product: string; comments: string };

export interface Session {
  user: { id: string; role: string };
  accessToken: string;
}

/**
 * How the seed gets a session for an account that already exists. The launcher asks the auth
 * service in its own process (no password, so a changed password never fails and never counts
 * towards any login throttling); `npm run seed` against a running platform logs in over HTTP.
 */
export type SessionSource = (account: { email: string; password: string }) => Promise<Session>;

/** Logs in over HTTP: one attempt, a clear error on refusal. */
export function httpLogin(authUrl: string): SessionSource {
  return async ({ email, password }) =>
    (await call<Session>('POST', `${authUrl}/api/auth/login`, { email, password })).body;
}

/** A JSON request, with `token` as its bearer; the answer's status, text and parsed body. */
export async function requestJson<T>(
  method: string,
  url: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; text: string; body: T | undefined }> {
  const res = await fetch(url, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as T) : undefined };
}

/** A JSON call that throws with the answer's error body on an unexpected status. */
async function call<T>(
  method: string,
  url: string,
  body?: unknown,
  token?: string,
  okStatuses: number[] = [200, 201],
): Promise<{ status: number; body: T }> {
  const { status, text, body: parsed } = await requestJson<T>(method, url, body, token);
  if (!okStatuses.includes(status)) {
    throw new Error(`seed: ${method} ${url} answered ${status}: ${text.slice(0, 300)}`);
  }
  return { status, body: parsed as T };
}

/** Registers the account, or takes a session for it when it already exists (re-runnable). */
async function account(
  authUrl: string,
  sessionFor: SessionSource,
  acc: { email: string; password: string; name: string },
): Promise<Session> {
  const res = await call<Session>(
    'POST',
    `${authUrl}/api/auth/register`,
    acc,
    undefined,
    [201, 409],
  );
  return res.status === 201 ? res.body : sessionFor(acc);
}

const CATEGORIES: { name: string; slug: string; children: { name: string; slug: string }[] }[] = [
  {
    name: 'Electronics',
    slug: 'electronics',
    children: [
      { name: 'Laptops', slug: 'laptops' },
      { name: 'Phones', slug: 'phones' },
      { name: 'Audio', slug: 'audio' },
    ],
  },
  {
    name: 'Home',
    slug: 'home',
    children: [
      { name: 'Kitchen', slug: 'kitchen' },
      { name: 'Furniture', slug: 'furniture' },
    ],
  },
  { name: 'Books', slug: 'books', children: [{ name: 'Programming', slug: 'programming' }] },
  { name: 'Sports', slug: 'sports', children: [{ name: 'Cycling', slug: 'cycling' }] },
];

/** 32 products: [name, category, price, stock, description]. */
const PRODUCTS: [string, string, number, number, string][] = [
  ['Aero 14 Laptop', 'laptops', 1299.99, 25, 'Light 14-inch laptop with 16 GB RAM'],
  ['Forge 16 Workstation', 'laptops', 2499, 8, 'Mobile workstation for builds and renders'],
  ['Scholar 13 Laptop', 'laptops', 649.5, 40, 'Affordable laptop for students'],
  ['Pixel Nine Phone', 'phones', 799, 60, 'Phone with a great camera'],
  ['Orbit Mini Phone', 'phones', 429.99, 35, 'Compact phone, all-day battery'],
  ['Rugged X Phone', 'phones', 559, 12, 'Water and drop resistant phone'],
  ['Studio Headphones', 'audio', 199.99, 50, 'Closed-back studio headphones'],
  ['Pocket Earbuds', 'audio', 89.9, 120, 'Wireless earbuds with noise cancelling'],
  ['Desk Speaker Pair', 'audio', 149, 30, 'Bookshelf speakers for the desk'],
  ['USB-C Dock', 'electronics', 129.99, 45, 'Dock with two displays and ethernet'],
  ['Mechanical Keyboard', 'electronics', 109, 70, 'Tenkeyless keyboard with tactile switches'],
  ['Ergo Mouse', 'electronics', 59.99, 90, 'Vertical mouse for long days'],
  ['Chef Knife 8"', 'kitchen', 74.5, 40, 'Forged steel chef knife'],
  ['Cast Iron Skillet', 'kitchen', 39.99, 55, 'Pre-seasoned 10-inch skillet'],
  ['Espresso Machine', 'kitchen', 349, 10, 'Dual boiler espresso machine'],
  ['Pour-over Kettle', 'kitchen', 45, 65, 'Gooseneck kettle with thermometer'],
  ['Oak Desk', 'furniture', 420, 6, 'Solid oak desk, 140 cm'],
  ['Task Chair', 'furniture', 289.99, 14, 'Ergonomic chair with lumbar support'],
  ['Floor Lamp', 'furniture', 79, 22, 'Warm dimmable floor lamp'],
  ['Bookshelf', 'furniture', 159, 9, 'Five-shelf bookcase'],
  ['Designing Data Systems', 'programming', 49.99, 100, 'A book on reliable, scalable systems'],
  ['TypeScript in Depth', 'programming', 39.5, 80, 'Types, generics and the compiler'],
  ['Distributed Sagas', 'programming', 29.99, 75, 'Long-running transactions without 2PC'],
  ['The Pragmatic Engineer', 'books', 34, 60, 'Career and craft'],
  ['A Short History of Ledgers', 'books', 19.99, 45, 'From clay tablets to Merkle trees'],
  ['Gravel Bike', 'cycling', 1599, 5, 'Aluminium gravel bike, 2x11'],
  ['Bike Helmet', 'cycling', 69.99, 40, 'MIPS helmet, three sizes'],
  ['Bike Lights Set', 'cycling', 34.5, 85, 'USB rechargeable front and rear lights'],
  ['Yoga Mat', 'sports', 29, 100, 'Non-slip 6 mm mat'],
  ['Running Shoes', 'sports', 119.99, 30, 'Cushioned road running shoes'],
  ['Kettlebell 16 kg', 'sports', 54, 20, 'Cast iron kettlebell'],
  ['Water Bottle', 'sports', 15.99, 200, 'Insulated 750 ml bottle'],
];

const REVIEWS: [number, number, string][] = [
  [0, 5, 'Light, fast and the battery lasts all day.'],
  [3, 4, 'Great camera, a bit slippery without a case.'],
  [6, 5, 'Clear sound and comfortable for hours.'],
  [14, 4, 'Excellent espresso once you dial it in.'],
  [20, 5, 'Changed how I think about data systems.'],
];

export interface SeedOptions {
  urls: Urls;
  /** The platform's admin (ADMIN_EMAIL/ADMIN_PASSWORD, else the demo admin). */
  admin: { email: string; password: string };
  sessionFor: SessionSource;
}

/**
 * Demo data through the services' own APIs (so every rule and event applies): the seller
 * account promoted by the admin, categories, 32 products with stock, a few reviews.
 * Returns a one-line summary.
 */
export async function seedDemoData({ urls, admin: adminAccount, sessionFor }: SeedOptions) {
  const admin = await sessionFor(adminAccount);
  if (admin.user.role !== 'admin') {
    throw new Error(`${adminAccount.email} is not an admin account (role ${admin.user.role})`);
  }
  let seller = await account(urls.auth, sessionFor, DEMO_ACCOUNTS.seller);
  if (seller.user.role !== 'seller') {
    await call(
      'PUT',
      `${urls.auth}/api/users/${seller.user.id}/role`,
      { role: 'seller' },
      admin.accessToken,
    );
    // The role is in the token: a fresh session carries the new one.
    seller = await sessionFor(DEMO_ACCOUNTS.seller);
  }
  const customer = await account(urls.auth, sessionFor, DEMO_ACCOUNTS.customer);

  const existing = await call<{ total: number }>('GET', `${urls.product}/api/products?limit=1`);
  if (existing.body.total >= PRODUCTS.length) return 'already present';

  for (const top of CATEGORIES) {
    const parent = await call<{ id: string }>(
      'POST',
      `${urls.product}/api/products/categories`,
      { name: top.name, slug: top.slug },
      admin.accessToken,
    );
    for (const child of top.children) {
      await call(
        'POST',
        `${urls.product}/api/products/categories`,
        { ...child, parentId: parent.body.id },
        admin.accessToken,
      );
    }
  }
  const ids: string[] = [];
  for (const [name, category, price, inventory, description] of PRODUCTS) {
    const res = await call<{ id: string }>(
      'POST',
      `${urls.product}/api/products`,
      { name, category, price, inventory, description, lowStockThreshold: 3 },
      seller.accessToken,
    );
    ids.push(res.body.id);
  }
  for (const [index, rating, text] of REVIEWS) {
    await call(
      'POST',
      `${urls.comments}/api/comments`,
      { productId: ids[index], rating, text },
      customer.accessToken,
    );
  }
  return `${CATEGORIES.length} categories, ${PRODUCTS.length} products, ${REVIEWS.length} reviews`;
}
