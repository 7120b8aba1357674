export * from './metrics';
export * from './scrape';
export * from './stores';
export * from './outbox';
export * from './anchoring';
export * from './consumers';
export * from './clients';
// Services build their own metrics from these (one prom-client for every registry).
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
