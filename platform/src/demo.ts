/** Demo accounts created by the first `npm start` (and `npm run seed`); documented in the README. */
export const DEMO_ACCOUNTS = {
  admin: { email: 'admin@example.com', password: 'Admin#2026demo', name: 'Demo Admin' },
  seller: { email: 'seller@example.com', password: 'Seller#2026demo', name: 'Demo Seller' },
  customer: { email: 'customer@example.com', password: 'Customer#2026demo', name: 'Demo Customer' },
} as const;

/**
 * Demo accounts and demo data exist outside production only: their passwords are printed in the
 * README, so a production installation must never have them.
 */
export function demoAllowed(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV !== 'production';
}

/**
 * The platform's admin: ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME when set, else (outside
 * production) the demo admin. A custom ADMIN_EMAIL never falls back to the demo password
 * (empty: auth refuses to start); in production both must be set.
 */
export function adminAccount(env: NodeJS.ProcessEnv): {
  email: string;
  password: string;
  name: string;
  demo: boolean;
} {
  const custom = env.ADMIN_EMAIL !== undefined && env.ADMIN_EMAIL !== '';
  if (!demoAllowed(env) && (!custom || !env.ADMIN_PASSWORD)) {
    throw new Error(
      'NODE_ENV=production needs ADMIN_EMAIL and ADMIN_PASSWORD: the demo admin, whose password is in the README, is not created in production',
    );
  }
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
  notification: 3006,
} as const;
