export * from './mongo';
export * from './postgres';
