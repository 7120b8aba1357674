import type { EventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import type { Logger } from '@ecom/common/logging';
import { authService, loadAuthConfig } from '@ecom/auth-service';
import { loadProductConfig, productService } from '@ecom/product-service';
import { commentsService, loadCommentsConfig } from '@ecom/comments-service';
import { paymentConfigSchema, paymentService } from '@ecom/payment-service';
import { orderConfigSchema, orderService } from '@ecom/order-service';
import { gatewayService, loadGatewayConfig } from '@ecom/gateway';
import type { ChainEndpoint } from './chain';
import { adminAccount, PORTS } from './demo';
import type { JwtKeys } from './keys';
import type { SessionSource } from './seed';
import { mongoDatabaseUrl } from './stores';

export interface FleetOptions {
  env: NodeJS.ProcessEnv;
  logLevel: string;
  bus: EventBus;
  keys: JwtKeys;
  mongoUrl: string;
  orderDbUrl: string;
  paymentDbUrl: string;
  chain: ChainEndpoint;
  logger: Logger;
  /** Defaults to the fixed ports (docs/architecture.md); tests pass their own. */
  ports?: Record<ServiceName, number>;
}

export type ServiceName = keyof typeof PORTS;

export interface RunningFleet {
  urls: Record<ServiceName, string>;
  /** A session for an existing account, from the auth service in this process (no password). */
  sessionFor: SessionSource;
  stop(): Promise<void>;
}

// Variables that name one service's own resources: never inherited from the launcher's shell.
const PER_SERVICE = ['PORT', 'MONGO_URL', 'DATABASE_URL', 'EVENT_BUS'];

/**
 * Starts the five services and the gateway in this process, each on its port, sharing one
 * event bus. Each service's configuration goes through its own joi schema, exactly as in
 * its main.ts, from the launcher's environment plus what the launcher decided.
 */
export async function startFleet(o: FleetOptions): Promise<RunningFleet> {
  const inherited = Object.fromEntries(
    Object.entries(o.env).filter(([k]) => !PER_SERVICE.includes(k)),
  ) as NodeJS.ProcessEnv;
  const host = o.env.HOST ?? '127.0.0.1';
  const base: NodeJS.ProcessEnv = {
    ...inherited,
    NODE_ENV: o.env.NODE_ENV ?? 'development',
    LOG_LEVEL: o.logLevel,
    HOST: host,
    EVENT_BUS: 'memory',
    JWT_ALGORITHM: 'ES256',
    JWT_PUBLIC_KEY: o.keys.publicKey,
  };
  const ports = o.ports ?? PORTS;
  const url = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`;
  const anchoring = (key: string | undefined): NodeJS.ProcessEnv => ({
    BLOCKCHAIN_RPC_URL: o.chain.url,
    ...(o.chain.contractAddress ? { ANCHOR_CONTRACT_ADDRESS: o.chain.contractAddress } : {}),
    ...(key ? { ANCHOR_PRIVATE_KEY: key } : {}),
    // The embedded chain is a dev chain: if it ever lacks the contract, the service deploys one.
    ...(o.chain.kind === 'embedded' ? { ANCHOR_DEPLOY: 'true' } : {}),
  });

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  };
  // Every service shares the launcher's bus (owned and closed by the launcher).
  const common = { bus: o.bus };
  const admin = adminAccount(o.env);
  let sessionFor: SessionSource | undefined;
  try {
    const auth = await authService.start({
      ...common,
      config: loadAuthConfig({
        ...base,
        PORT: String(ports.auth),
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'auth_db'),
        JWT_PRIVATE_KEY: o.keys.privateKey,
        ADMIN_EMAIL: admin.email,
        ...(admin.password ? { ADMIN_PASSWORD: admin.password } : {}),
        ADMIN_NAME: admin.name,
        BCRYPT_ROUNDS: o.env.BCRYPT_ROUNDS ?? '10',
      }),
    });
    stops.push(() => auth.stop());
    sessionFor = ({ email }) => auth.accounts.operatorSession(email);
    const product = await productService.start({
      ...common,
      config: loadProductConfig({
        ...base,
        PORT: String(ports.product),
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'product_db'),
      }),
    });
    stops.push(() => product.stop());
    const comments = await commentsService.start({
      ...common,
      config: loadCommentsConfig({
        ...base,
        PORT: String(ports.comments),
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'comments_db'),
        PRODUCT_SERVICE_URL: url('product'),
      }),
    });
    stops.push(() => comments.stop());
    const payment = await paymentService.start({
      ...common,
      config: loadConfig(paymentConfigSchema, {
        ...base,
        PORT: String(ports.payment),
        DATABASE_URL: o.paymentDbUrl,
        // GET /api/blockchain/verify/:tx asks order for the transactions of its own batches.
        ORDER_SERVICE_URL: url('order'),
        ...anchoring(o.chain.anchorerKeys[0]),
      }),
    });
    stops.push(() => payment.stop());
    const order = await orderService.start({
      ...common,
      config: loadConfig(orderConfigSchema, {
        ...base,
        PORT: String(ports.order),
        DATABASE_URL: o.orderDbUrl,
        PRODUCT_SERVICE_URL: url('product'),
        AUTH_SERVICE_URL: url('auth'),
        ...anchoring(o.chain.anchorerKeys[1]),
      }),
    });
    stops.push(() => order.stop());
    const gateway = await gatewayService.start({
      config: loadGatewayConfig({
        ...base,
        PORT: String(ports.gateway),
        AUTH_SERVICE_URL: url('auth'),
        PRODUCT_SERVICE_URL: url('product'),
        COMMENTS_SERVICE_URL: url('comments'),
        PAYMENT_SERVICE_URL: url('payment'),
        ORDER_SERVICE_URL: url('order'),
      }),
    });
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
    },
    sessionFor: sessionFor!,
    stop,
  };
}
