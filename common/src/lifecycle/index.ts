export * from './shutdown';
export * from './listen';
export * from './periodic-task';
