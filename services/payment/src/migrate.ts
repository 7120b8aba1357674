import { migrateCommand } from '@ecom/common/postgres';
import { paymentMigrations } from './store/migrations';

/** `npm run migrate -w services/payment`: applies pending migrations to DATABASE_URL and exits. */
void migrateCommand('payment_db', paymentMigrations);
