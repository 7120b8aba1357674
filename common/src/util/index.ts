export * from './canonical-json';
export * from './ip-network';
