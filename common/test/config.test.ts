import { generateKeyPairSync } from 'node:crypto';
import Joi from 'joi';
import { generateEs256KeyPair } from '../src/auth';
import {
  ConfigError,
  baseConfigKeys,
  jwtVerifyConfigKeys,
  loadConfig,
  pemFromEnv,
} from '../src/config';

const schema = Joi.object({
  ...baseConfigKeys,
  PORT: Joi.number().port().default(3001),
  DATABASE_URL: Joi.string().uri().required(),
});

describe('loadConfig', () => {
  it('applies defaults and converts types', () => {
    const config = loadConfig(schema, { DATABASE_URL: 'postgres://x@h/db', PORT: '4000' });
    expect(config.PORT).toBe(4000);
    expect(config.NODE_ENV).toBe('development');
    expect(config.BODY_LIMIT).toBe('100kb');
  });

  it('names the bad variable in one line', () => {
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://x@h/db', PORT: 'abc' })).toThrow(
      /^Invalid configuration: PORT: /,
    );
    try {
      loadConfig(schema, { PORT: '1' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('DATABASE_URL');
      expect((err as Error).message).not.toContain('\n');
    }
    expect.assertions(4);
  });

  it('treats empty strings as unset so defaults apply', () => {
    expect(loadConfig(schema, { DATABASE_URL: 'postgres://x@h/db', PORT: '' }).PORT).toBe(3001);
  });

  it('does not return unrelated environment variables', () => {
    const config = loadConfig(schema, { DATABASE_URL: 'postgres://x@h/db', SECRET_THING: 'x' });
    expect(config).not.toHaveProperty('SECRET_THING');
  });

  it('requires a public key for asymmetric JWTs and a long secret for HS256', () => {
    const jwtSchema = Joi.object(jwtVerifyConfigKeys);
    expect(() => loadConfig(jwtSchema, {})).toThrow(/JWT_PUBLIC_KEY/);
    expect(() => loadConfig(jwtSchema, { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'short' })).toThrow(
      /JWT_SECRET/,
    );
    expect(
      loadConfig(jwtSchema, { JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(32) }).JWT_ALGORITHM,
    ).toBe('HS256');
  });

  it('refuses a JWT_PUBLIC_KEY that is not a PEM key, accepts one with escaped newlines', () => {
    const jwtSchema = Joi.object(jwtVerifyConfigKeys);
    expect(() => loadConfig(jwtSchema, { JWT_PUBLIC_KEY: 'not-a-pem' })).toThrow(
      /^Invalid configuration: JWT_PUBLIC_KEY: .*not a PEM public key/,
    );
    const { publicKey, privateKey } = generateEs256KeyPair();
    const escaped = publicKey.trim().replace(/\n/g, '\\n');
    expect(loadConfig(jwtSchema, { JWT_PUBLIC_KEY: escaped }).JWT_PUBLIC_KEY).toBe(escaped);
    // The private key is not a verification key to hand around.
    expect(() => loadConfig(jwtSchema, { JWT_PUBLIC_KEY: privateKey })).toThrow(/private key/);
  });

  it('refuses a JWT_PUBLIC_KEY that does not fit JWT_ALGORITHM', () => {
    const jwtSchema = Joi.object(jwtVerifyConfigKeys);
    const ec = generateEs256KeyPair().publicKey;
    const rsa = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    const p384 = generateKeyPairSync('ec', {
      namedCurve: 'secp384r1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    expect(() => loadConfig(jwtSchema, { JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY: ec })).toThrow(
      /not a RSA key/,
    );
    expect(() => loadConfig(jwtSchema, { JWT_PUBLIC_KEY: rsa })).toThrow(/not a P-256 EC key/);
    expect(() => loadConfig(jwtSchema, { JWT_PUBLIC_KEY: p384 })).toThrow(/not a P-256 EC key/);
    expect(
      loadConfig(jwtSchema, { JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY: rsa }).JWT_ALGORITHM,
    ).toBe('RS256');
  });

  it('restores newlines in PEM values from env files', () => {
    expect(pemFromEnv('a\\nb')).toBe('a\nb');
    expect(pemFromEnv('a\nb')).toBe('a\nb');
  });
});
