export * from './envelope';
export * from './types';
export * from './dispatch';
export * from './memory-bus';
