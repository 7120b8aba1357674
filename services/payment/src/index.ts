/** The package's public surface: what the platform launcher and saga tests use. */
export * from './service';
export { paymentConfigSchema, type PaymentConfig } from './config';
export type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway/gateway';
export { MockPaymentGateway, type GatewayCall } from './gateway/mock-gateway';
