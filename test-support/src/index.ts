export * from './eventually';
export * from './tokens';
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
