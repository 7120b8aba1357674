export * from './migrations';
export * from './pool';
export * from './transaction';
