import { adminAccount, demoAllowed, PORTS } from './demo';
import { httpLogin, seedDemoData } from './seed';

/** `npm run seed`: demo data into a running platform (re-runnable: existing data is kept). */
async function main(): Promise<void> {
  if (!demoAllowed(process.env)) {
    throw new Error('NODE_ENV=production: demo accounts and data are not seeded in production');
  }
  const host = process.env.SEED_HOST ?? '127.0.0.1';
  const urls = {
    auth: process.env.AUTH_SERVICE_URL ?? `http://${host}:${PORTS.auth}`,
    product: process.env.PRODUCT_SERVICE_URL ?? `http://${host}:${PORTS.product}`,
    comments: process.env.COMMENTS_SERVICE_URL ?? `http://${host}:${PORTS.comments}`,
  };
  // From outside the platform's process the seed has to log in: once per account, so a wrong
  // ADMIN_PASSWORD answers one 401 here instead of a series of failed logins.
  const summary = await seedDemoData({
    urls,
    admin: adminAccount(process.env),
    sessionFor: httpLogin(urls.auth),
  });
  process.stdout.write(`seeded: ${summary}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.stderr.write(
    'Is the platform running (npm start), and are ADMIN_EMAIL/ADMIN_PASSWORD those of its admin?\n',
  );
  process.exit(1);
});
