import { loadConfig } from '@ecom/common/config';
import { generateEs256KeyPair } from '@ecom/common/auth';
import { orderConfigSchema } from '@ecom/order-service';
import { paymentConfigSchema } from '@ecom/payment-service';
import { notificationConfigSchema } from '@ecom/notification-service';
import { serviceEnv, type FleetContext, type ServiceName } from '../src/service-env';

describe("the launcher's variables for the PostgreSQL services", () => {
  const keys = generateEs256KeyPair();
  const context = (embeddedPostgres: boolean): FleetContext => ({
    env: {},
    logLevel: 'error',
    keys,
    mongoUrl: 'mongodb://127.0.0.1:27017',
    orderDbUrl: 'postgres://postgres@127.0.0.1:5432/order_db',
    paymentDbUrl: 'postgres://postgres@127.0.0.1:5432/payment_db',
    notificationDbUrl: 'postgres://postgres@127.0.0.1:5432/notification_db',
    chain: {
      url: 'http://127.0.0.1:8545',
      kind: 'external',
      anchorerKeys: [`0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`],
    },
    urls: Object.fromEntries(
      ['auth', 'product', 'comments', 'payment', 'order', 'notification', 'gateway'].map((n) => [
        n,
        ['http://127.0.0.1:1'],
      ]),
    ) as FleetContext['urls'],
    embeddedPostgres,
  });
  // Each service's own schema reads what the launcher gives it.
  const prepares: Record<string, (env: NodeJS.ProcessEnv) => boolean> = {
    order: (env) => loadConfig(orderConfigSchema, env).DATABASE_PREPARED_STATEMENTS,
    payment: (env) => loadConfig(paymentConfigSchema, env).DATABASE_PREPARED_STATEMENTS,
    notification: (env) => loadConfig(notificationConfigSchema, env).DATABASE_PREPARED_STATEMENTS,
  };
  const schemas = Object.keys(prepares);

  it.each(schemas)(
    '%s prepares statements on a PostgreSQL server, and not on PGlite, whose one session all connections share',
    (name) => {
      const env = (embedded: boolean) => serviceEnv(name as ServiceName, 1, context(embedded));
      expect(prepares[name]!(env(false))).toBe(true);
      expect(prepares[name]!(env(true))).toBe(false);
    },
  );
});
