/** Demo accounts created by the first `npm start` (and `npm run seed`); documented in the README. */
export const DEMO_ACCOUNTS = {
  admin: { email: 'admin@example.com', password: 'Admin#2026demo', name: 'Demo Admin' },
  seller: { email: 'seller@example.com', password: 'Seller#2026demo', name: 'Demo Seller' },
  customer: { email: 'customer@example.com', password: 'Customer#2026demo', name: 'Demo Customer' },
} as const;

/**
 * The platform's admin: ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME when set, else the demo admin.
 * A custom ADMIN_EMAIL never falls back to the demo password (empty: auth refuses to start).
 */
export function adminAccount(env: NodeJS.ProcessEnv): {
  email: string;
  password: string;
  name: string;
  demo: boolean;
} {
  const custom = env.ADMIN_EMAIL !== undefined && env.ADMIN_EMAIL !== '';
  return {
    email: custom ? env.ADMIN_EMAIL! : DEMO_ACCOUNTS.admin.email,
    password: env.ADMIN_PASSWORD ?? (custom ? '' : DEMO_ACCOUNTS.admin.password),
    name: env.ADMIN_NAME ?? (custom ? 'Administrator' : DEMO_ACCOUNTS.admin.name),
    demo: !custom && env.ADMIN_PASSWORD === undefined,
  };
}

/** Fixed service ports of the embedded run (docs/architecture.md). */
export const PORTS = {
  gateway: 3000,
  auth: 3001,
  product: 3002,
  comments: 3003,
  payment: 3004,
  order: 3005,
} as const;
