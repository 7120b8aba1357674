export * from './envelope';
export * from './types';
export * from './dispatch';
export * from './memory-bus';
export * from './outbox-replay';
export * from './factory';
export * from './consumer';
export * from './contract-event';
