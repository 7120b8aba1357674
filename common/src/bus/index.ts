export * from './envelope';
export * from './types';
export * from './dispatch';
export * from './memory-bus';
export * from './factory';
export * from './consumer';
export * from './contract-event';
