import { generateEs256KeyPair } from '@ecom/common/auth';
import { ConfigError } from '@ecom/common/config';
import { loadAuthConfig, signingKey } from '../src/config';

const keys = generateEs256KeyPair();
const env = { JWT_PRIVATE_KEY: keys.privateKey, JWT_PUBLIC_KEY: keys.publicKey };

function configError(vars: Record<string, string>): ConfigError {
  try {
    loadAuthConfig(vars);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('auth config', () => {
  it('has the documented defaults', () => {
    const config = loadAuthConfig(env);
    expect(config).toMatchObject({
      PORT: 3001,
      MONGO_URL: 'mongodb://127.0.0.1:27017/auth_db',
      JWT_ALGORITHM: 'ES256',
      JWT_ACCESS_TTL: '15m',
      JWT_REFRESH_TTL: '7d',
      BCRYPT_ROUNDS: 12,
      LOGIN_MAX_FAILURES: 5,
      LOGIN_ACCOUNT_MAX_FAILURES: 20,
      LOGIN_BASE_DELAY_SECONDS: 5,
      LOGIN_MAX_DELAY_SECONDS: 900,
      LOGIN_FAILURE_WINDOW_SECONDS: 86400,
      EVENT_BUS: 'memory',
    });
    expect(signingKey(config)).toBe(keys.privateKey);
  });

  it('needs the private key to sign with ES256', () => {
    expect(configError({ JWT_PUBLIC_KEY: keys.publicKey }).variable).toBe('JWT_PRIVATE_KEY');
  });

  it('restores newlines of PEM keys written on one line', () => {
    const oneLine = keys.privateKey.replace(/\n/g, '\\n');
    expect(signingKey(loadAuthConfig({ ...env, JWT_PRIVATE_KEY: oneLine }))).toBe(keys.privateKey);
  });

  it('signs with JWT_SECRET under HS256 and then refuses a private key', () => {
    const secret = 's'.repeat(40);
    expect(signingKey(loadAuthConfig({ JWT_ALGORITHM: 'HS256', JWT_SECRET: secret }))).toBe(secret);
    expect(
      configError({ JWT_ALGORITHM: 'HS256', JWT_SECRET: secret, JWT_PRIVATE_KEY: 'x' }).variable,
    ).toBe('JWT_PRIVATE_KEY');
  });

  it('requires bcrypt cost >= 10 in production but allows 4 in tests', () => {
    expect(loadAuthConfig({ ...env, BCRYPT_ROUNDS: '4', NODE_ENV: 'test' }).BCRYPT_ROUNDS).toBe(4);
    expect(configError({ ...env, BCRYPT_ROUNDS: '9', NODE_ENV: 'production' }).variable).toBe(
      'BCRYPT_ROUNDS',
    );
    expect(
      loadAuthConfig({ ...env, BCRYPT_ROUNDS: '10', NODE_ENV: 'production' }).BCRYPT_ROUNDS,
    ).toBe(10);
    expect(configError({ ...env, BCRYPT_ROUNDS: '3' }).variable).toBe('BCRYPT_ROUNDS');
    expect(configError({ ...env, BCRYPT_ROUNDS: '16' }).variable).toBe('BCRYPT_ROUNDS');
  });

  it('refuses malformed token lifetimes', () => {
    expect(configError({ ...env, JWT_ACCESS_TTL: '15 minutes' }).variable).toBe('JWT_ACCESS_TTL');
    expect(configError({ ...env, JWT_REFRESH_TTL: '0' }).variable).toBe('JWT_REFRESH_TTL');
    expect(loadAuthConfig({ ...env, JWT_ACCESS_TTL: '300' }).JWT_ACCESS_TTL).toBe('300');
  });

  it('needs ADMIN_PASSWORD with ADMIN_EMAIL, and a valid email', () => {
    expect(configError({ ...env, ADMIN_EMAIL: 'a@b.test' }).variable).toBe('ADMIN_PASSWORD');
    expect(configError({ ...env, ADMIN_PASSWORD: 'Xx-123456' }).variable).toBe('ADMIN_PASSWORD');
    expect(configError({ ...env, ADMIN_EMAIL: 'nope', ADMIN_PASSWORD: 'x' }).variable).toBe(
      'ADMIN_EMAIL',
    );
    // Hidden characters are refused here as at registration.
    expect(
      configError({ ...env, ADMIN_EMAIL: 'ad\u200bmin@b.test', ADMIN_PASSWORD: 'x' }).variable,
    ).toBe('ADMIN_EMAIL');
  });

  it('refuses a non-MongoDB URL and bad login throttling values', () => {
    expect(configError({ ...env, MONGO_URL: 'postgres://x/y' }).variable).toBe('MONGO_URL');
    expect(configError({ ...env, LOGIN_MAX_FAILURES: '0' }).variable).toBe('LOGIN_MAX_FAILURES');
    expect(configError({ ...env, LOGIN_ACCOUNT_MAX_FAILURES: 'x' }).variable).toBe(
      'LOGIN_ACCOUNT_MAX_FAILURES',
    );
    expect(configError({ ...env, LOGIN_MAX_DELAY_SECONDS: '0' }).variable).toBe(
      'LOGIN_MAX_DELAY_SECONDS',
    );
    expect(configError({ ...env, LOGIN_LOCKOUT_SECONDS: '90000' }).variable).toBe(
      'LOGIN_LOCKOUT_SECONDS',
    );
  });

  it('still reads LOGIN_LOCKOUT_SECONDS, the old name of LOGIN_MAX_DELAY_SECONDS', () => {
    expect(loadAuthConfig({ ...env, LOGIN_LOCKOUT_SECONDS: '600' }).LOGIN_MAX_DELAY_SECONDS).toBe(
      600,
    );
    expect(
      loadAuthConfig({ ...env, LOGIN_LOCKOUT_SECONDS: '600', LOGIN_MAX_DELAY_SECONDS: '300' })
        .LOGIN_MAX_DELAY_SECONDS,
    ).toBe(300);
  });
});
