/** One jest run for every workspace; each test file gets its own databases (see infrastructure/src/testing). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  moduleNameMapper: {
    '^@ecom/common$': '<rootDir>/common/src/index.ts',
    '^@ecom/common/(.*)$': '<rootDir>/common/src/$1',
    '^@ecom/infrastructure$': '<rootDir>/infrastructure/src/index.ts',
    '^@ecom/infrastructure/(.*)$': '<rootDir>/infrastructure/src/$1',
    '^@ecom/(auth|product|comments|payment|order)-service$': '<rootDir>/services/$1/src/index.ts',
    '^@ecom/gateway$': '<rootDir>/gateway/src/service.ts',
  },
  testMatch: ['<rootDir>/{common,infrastructure,gateway,services/*,platform}/test/**/*.test.ts'],
  setupFiles: ['<rootDir>/jest.setup.js'],
  testTimeout: 30000,
  maxWorkers: 2,
};
