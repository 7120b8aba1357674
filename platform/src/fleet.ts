import type { EventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import type { Logger } from '@ecom/common/logging';
import { authService, loadAuthConfig } from '@ecom/auth-service';
import { loadProductConfig, productService } from '@ecom/product-service';
import { commentsService, loadCommentsConfig } from '@ecom/comments-service';
import { paymentConfigSchema, paymentService } from '@ecom/payment-service';
import { orderConfigSchema, orderService } from '@ecom/order-service';
import { notificationConfigSchema, notificationService } from '@ecom/notification-service';
import { gatewayService, loadGatewayConfig } from '@ecom/gateway';
import type { ChainEndpoint } from './chain';
import { PORTS } from './demo';
import type { JwtKeys } from './keys';
import type { SessionSource } from './seed';
import { SERVICE_NAMES, serviceEnv, type FleetContext, type ServiceName } from './service-env';

export type { ServiceName } from './service-env';

export interface FleetOptions {
  env: NodeJS.ProcessEnv;
  logLevel: string;
  bus: EventBus;
  keys: JwtKeys;
  mongoUrl: string;
  orderDbUrl: string;
  paymentDbUrl: string;
  notificationDbUrl: string;
  /** The databases are PGlite stand-ins (see FleetContext). */
  embeddedPostgres?: boolean;
  /** Where the notification service sends mail (the embedded catcher), else SMTP_HOST/PORT. */
  smtp?: { host: string; port: number };
  chain: ChainEndpoint;
  logger: Logger;
  /** Defaults to the fixed ports (docs/architecture.md); tests pass their own. */
  ports?: Record<ServiceName, number>;
}

export interface RunningFleet {
  urls: Record<ServiceName, string>;
  /** A session for an existing account, from the auth service in this process (no password). */
  sessionFor: SessionSource;
  stop(): Promise<void>;
}

/**
 * Starts the six services and the gateway in this process, each on its port, sharing one
 * event bus. Each service's configuration goes through its own joi schema, exactly as in
 * its main.ts, from the variables `serviceEnv` derives (the same as `npm run fleet` passes to
 * its processes).
 */
export async function startFleet(o: FleetOptions): Promise<RunningFleet> {
  const ports = o.ports ?? PORTS;
  const url = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`;
  const context: FleetContext = {
    env: o.env,
    logLevel: o.logLevel,
    keys: o.keys,
    mongoUrl: o.mongoUrl,
    orderDbUrl: o.orderDbUrl,
    paymentDbUrl: o.paymentDbUrl,
    notificationDbUrl: o.notificationDbUrl,
    embeddedPostgres: o.embeddedPostgres,
    smtp: o.smtp,
    chain: o.chain,
    urls: Object.fromEntries(SERVICE_NAMES.map((n) => [n, [url(n)]])) as FleetContext['urls'],
  };
  const env = (name: ServiceName) => serviceEnv(name, ports[name], context);

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  };
  // Every service shares the launcher's bus (owned and closed by the launcher).
  const common = { bus: o.bus };
  let sessionFor: SessionSource | undefined;
  try {
    const auth = await authService.start({ ...common, config: loadAuthConfig(env('auth')) });
    stops.push(() => auth.stop());
    sessionFor = ({ email }) => auth.accounts.operatorSession(email);
    const product = await productService.start({
      ...common,
      config: loadProductConfig(env('product')),
    });
    stops.push(() => product.stop());
    const comments = await commentsService.start({
      ...common,
      config: loadCommentsConfig(env('comments')),
    });
    stops.push(() => comments.stop());
    const payment = await paymentService.start({
      ...common,
      config: loadConfig(paymentConfigSchema, env('payment')),
    });
    stops.push(() => payment.stop());
    const order = await orderService.start({
      ...common,
      config: loadConfig(orderConfigSchema, env('order')),
    });
    stops.push(() => order.stop());
    const notification = await notificationService.start({
      ...common,
      config: loadConfig(notificationConfigSchema, env('notification')),
    });
    stops.push(() => notification.stop());
    const gateway = await gatewayService.start({ config: loadGatewayConfig(env('gateway')) });
    stops.push(() => gateway.stop());
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls: {
      gateway: url('gateway'),
      auth: url('auth'),
      product: url('product'),
      comments: url('comments'),
      payment: url('payment'),
      order: url('order'),
      notification: url('notification'),
    },
    sessionFor: sessionFor!,
    stop,
  };
}
