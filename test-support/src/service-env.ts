import { testJwtEnv } from './tokens';

/** The environment every service under test starts from: the test key pair, a free port, no logs. */
export const testServiceEnv = {
  ...testJwtEnv,
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  PORT: '0',
} as const;
