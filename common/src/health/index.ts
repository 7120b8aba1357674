export * from './health-router';
