export { startCommentsService } from './service';
export type { RunningCommentsService, StartCommentsServiceOptions } from './service';
export { createCommentsApp } from './app';
export type { CommentsAppDeps } from './app';
export { commentsConfigSchema, loadCommentsConfig, loadCommentsConfigOrExit } from './config';
export type { CommentsConfig } from './config';
export type { ProductCatalog } from './products';
