export * from './errors';
export * from './outbox';
export * from './processed-events';
export * from './consumers';
