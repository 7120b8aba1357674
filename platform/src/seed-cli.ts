import { PORTS } from './demo';
import { seedDemoData } from './seed';

/** `npm run seed`: demo data into a running platform (re-runnable: existing data is kept). */
async function main(): Promise<void> {
  const host = process.env.SEED_HOST ?? '127.0.0.1';
  const summary = await seedDemoData({
    auth: process.env.AUTH_SERVICE_URL ?? `http://${host}:${PORTS.auth}`,
    product: process.env.PRODUCT_SERVICE_URL ?? `http://${host}:${PORTS.product}`,
    comments: process.env.COMMENTS_SERVICE_URL ?? `http://${host}:${PORTS.comments}`,
  });
  process.stdout.write(`seeded: ${summary}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.stderr.write('Is the platform running (npm start)?\n');
  process.exit(1);
});
