export * from './shutdown';
export * from './run-service';
export * from './listen';
export * from './periodic-task';
