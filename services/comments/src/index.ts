/** The package's public surface: what the platform launcher and cross-service tests use. */
export * from './service';
export { commentsConfigSchema, loadCommentsConfig, type CommentsConfig } from './config';
export type { ProductCatalog } from './clients/catalog';
