export * from './connection';
export * from './driver-fix';
export * from './errors';
export * from './outbox';
export * from './transaction';
export * from './processed-events';
export * from './consumers';
