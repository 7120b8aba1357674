import './types';

export * from './api';
export * from './bind-routes';
export * from './client-errors';
export * from './conventions';
export * from './create-app';
export * from './error-handler';
export * from './idempotency';
export * from './reply';
export * from './request-context';
export * from './request-logger';
export * from './route-label';
export * from './validate';
