/** Public surface of @ecom/product-service (for the embedded launcher and saga tests). */
export {
  startProductService,
  type RunningProductService,
  type StartProductServiceOptions,
} from './service';
export { loadProductConfig, productConfigSchema, CURRENCIES, type ProductConfig } from './config';
export { createProductApp, SERVICE_NAME, type ProductApp, type ProductAppDeps } from './app';
export { CONSUMER_GROUP, CONSUMED_EVENTS } from './events/consumers';
export {
  EVENT_SOURCE,
  createProductEventPublisher,
  type ProductEvent,
  type ProductEventPublisher,
} from './events/publisher';
