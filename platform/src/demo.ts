/** Demo accounts created by the first `npm start` (and `npm run seed`); documented in the README. */
export const DEMO_ACCOUNTS = {
  admin: { email: 'admin@example.com', password: 'Admin#2026demo', name: 'Demo Admin' },
  seller: { email: 'seller@example.com', password: 'Seller#2026demo', name: 'Demo Seller' },
  customer: { email: 'customer@example.com', password: 'Customer#2026demo', name: 'Demo Customer' },
} as const;

/** Fixed service ports of the embedded run (DESIGN.md §1). */
export const PORTS = {
  gateway: 3000,
  auth: 3001,
  product: 3002,
  comments: 3003,
  payment: 3004,
  order: 3005,
} as const;
