export * from './define-service';
export * from './run-service';
export * from './dead-letters';
