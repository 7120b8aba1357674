export * from './migrations';
export * from './pool';
export * from './transaction';
export * from './errors';
export * from './outbox';
export * from './processed-events';
export * from './consumers';
export * from './idempotency-store';
