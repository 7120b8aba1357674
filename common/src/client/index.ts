export * from './service-client';
export * from './product-client';
export * from './upstreams';
