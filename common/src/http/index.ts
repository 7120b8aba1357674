import './types';

export * from './client-errors';
export * from './create-app';
export * from './error-handler';
export * from './request-context';
export * from './request-logger';
export * from './route-label';
export * from './validate';
export * from './idempotency';
