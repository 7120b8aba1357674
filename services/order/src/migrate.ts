import { migrateCommand } from '@ecom/common/postgres';
import { orderMigrations } from './store/migrations';

/** `npm run migrate -w services/order`: applies pending migrations to DATABASE_URL and exits. */
void migrateCommand('order_db', orderMigrations);
