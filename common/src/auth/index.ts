export * from './types';
export * from './jwt';
export * from './keys';
export * from './middleware';
export * from './config';
export * from './revocation';
export * from './verified-tokens';
