import fs from 'node:fs';
import path from 'node:path';
import { generateEs256KeyPair } from '@ecom/common/auth';
import { pemFromEnv } from '@ecom/common/config';

export interface JwtKeys {
  privateKey: string;
  publicKey: string;
}

/**
 * JWT_PRIVATE_KEY/JWT_PUBLIC_KEY when set; otherwise an ES256 pair generated once and kept in
 * the data directory, so tokens stay valid across restarts of the embedded run.
 */
export function loadOrCreateJwtKeys(dir: string, env: NodeJS.ProcessEnv = process.env): JwtKeys {
  const privateKey = pemFromEnv(env.JWT_PRIVATE_KEY);
  const publicKey = pemFromEnv(env.JWT_PUBLIC_KEY);
  if (privateKey && publicKey) return { privateKey, publicKey };
  const keyDir = path.join(dir, 'jwt');
  const privPath = path.join(keyDir, 'private.pem');
  const pubPath = path.join(keyDir, 'public.pem');
  if (fs.existsSync(privPath) && fs.existsSync(pubPath)) {
    return {
      privateKey: fs.readFileSync(privPath, 'utf8'),
      publicKey: fs.readFileSync(pubPath, 'utf8'),
    };
  }
  const keys = generateEs256KeyPair();
  fs.mkdirSync(keyDir, { recursive: true });
  fs.writeFileSync(privPath, keys.privateKey, { mode: 0o600 });
  fs.writeFileSync(pubPath, keys.publicKey);
  return keys;
}
