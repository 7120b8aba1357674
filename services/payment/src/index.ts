/** The package's public surface: what the platform launcher and saga tests use. */
export * from './service';
export { paymentConfigSchema, type PaymentConfig } from './config';
