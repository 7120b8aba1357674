export * from './canonical-json';
export * from './ip-network';
export * from './windowed-batch';
export * from './plain-object';
export * from './durable-file';
