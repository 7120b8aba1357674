export * from './eventually';
export * from './tokens';
export * from './service-env';
export * from './flaky-bus';
export * from './http-stub';
export * from './event-spy';
export {
  createTestMongo,
  createTestPostgres,
  describeIfServer,
  requireServerUrl,
  type TestMongo,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
export * from './tcp-relay';
export * from './ports';
export * from './bench';
export * from './json-schema';
export * from './recording-anchor';
export * from './health';
export * from './bus-namespace';
export * from './pg-query';
export * from './provider-sim';
export * from './mongo-indexes';
export * from './recording-bus';
