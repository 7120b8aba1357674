/** The package's public surface: what the platform launcher and saga tests use. */
export * from './service';
export { paymentConfigSchema, type PaymentConfig } from './config';
export type {
  ChargeAnswer,
  ChargePending,
  ChargeRequest,
  ChargeResult,
  NextAction,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway/gateway';
export {
  IDEMPOTENCY_KEY_REUSED,
  MockPaymentGateway,
  type GatewayCall,
  type MockPaymentGatewayOptions,
} from './gateway/mock-gateway';
export {
  InMemoryMockGatewayLedger,
  PgMockGatewayLedger,
  mockGatewayMigration,
  type LedgerCharge,
  type LedgerMatch,
  type LedgerRefund,
  type MockGatewayLedger,
} from './gateway/mock-ledger';
export { ProviderPaymentGateway, type ProviderGatewayOptions } from './gateway/provider-gateway';
export { ProviderSimulator, type SimulatorOptions } from './provider-sim/simulator';
export { signatureHeader, verifySignature } from './gateway/webhook-signature';
