/** The package's public surface: what the platform launcher, the gateway and saga tests use. */
export * from './service';
export { loadProductConfig, productConfigSchema, type ProductConfig } from './config';
export { productApi } from './http/api';
