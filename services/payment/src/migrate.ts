import { createPgPool, loadConfigOrExit, runMigrations } from '@ecom/common';
import Joi from 'joi';
import { paymentMigrations } from './migrations';

/** `npm run migrate -w services/payment`: applies pending migrations and exits. */
async function migrate(): Promise<void> {
  const { DATABASE_URL } = loadConfigOrExit(
    Joi.object<{ DATABASE_URL: string }>({
      DATABASE_URL: Joi.string()
        .uri({ scheme: ['postgres', 'postgresql'] })
        .default('postgres://postgres@127.0.0.1:5432/payment_db'),
    }),
  );
  const pool = createPgPool(DATABASE_URL, 1);
  try {
    const applied = await runMigrations(pool, paymentMigrations);
    process.stdout.write(
      applied.length ? `applied: ${applied.join(', ')}\n` : 'payment_db is up to date\n',
    );
  } finally {
    await pool.end();
  }
}

migrate().catch((err: unknown) => {
  process.stderr.write(`migration failed: ${(err as Error).message}\n`);
  process.exit(1);
});
