import { migrateCommand } from '@ecom/common/postgres';
import { notificationMigrations } from './store/migrations';

/** `npm run migrate -w services/notification`: applies pending migrations to DATABASE_URL and exits. */
void migrateCommand('notification_db', notificationMigrations);
