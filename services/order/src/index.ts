/** The package's public surface: what the platform launcher and saga tests use. */
export * from './service';
export { orderConfigSchema, type OrderConfig } from './config';
