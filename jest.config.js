const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.paths.json');

/** One jest run for every workspace; each test file gets its own databases (see infrastructure/src/testing). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  // Package names resolve to the TypeScript sources through the one alias map.
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  testMatch: [
    '<rootDir>/{common,infrastructure,test-support,gateway,services/*,platform,e2e}/test/**/*.test.ts',
  ],
  setupFiles: ['<rootDir>/jest.setup.js'],
  testTimeout: 30000,
  maxWorkers: 2,
};
