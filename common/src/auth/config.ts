import { pemFromEnv } from '../config/schemas';
import type { JwtAlgorithm, JwtVerifyOptions } from './jwt';

export interface JwtVerifyConfig {
  JWT_ALGORITHM: JwtAlgorithm;
  JWT_PUBLIC_KEY?: string;
  JWT_SECRET?: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
}

/** Turns the validated JWT variables (see jwtVerifyConfigKeys) into verify options. */
export function jwtVerifyOptionsFromConfig(config: JwtVerifyConfig): JwtVerifyOptions {
  const key =
    config.JWT_ALGORITHM === 'HS256' ? config.JWT_SECRET : pemFromEnv(config.JWT_PUBLIC_KEY);
  if (!key) throw new Error('JWT verification key is not configured');
  return {
    algorithm: config.JWT_ALGORITHM,
    key,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  };
}
