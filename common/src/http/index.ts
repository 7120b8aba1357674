import './types';

export * from './api';
export * from './bind-routes';
export * from './client-errors';
export * from './conventions';
export * from './create-app';
export * from './error-handler';
export * from './idempotency';
export * from './json-body';
export * from './read-bytes';
export * from './reply';
export * from './request-context';
export * from './request-logger';
export * from './route-label';
export * from './storable-text';
export * from './strict-json';
export * from './strict-scalars';
export * from './validate';
