export * from './redis-bus';
