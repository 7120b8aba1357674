import { generateEs256KeyPair } from '@ecom/common/auth';

/** `npm run keys`: a fresh ES256 pair as two .env lines (newlines escaped, as .env files need). */
const { privateKey, publicKey } = generateEs256KeyPair();
const line = (name: string, pem: string) => `${name}="${pem.trim().replace(/\n/g, '\\n')}"`;
process.stdout.write(
  `${line('JWT_PRIVATE_KEY', privateKey)}\n${line('JWT_PUBLIC_KEY', publicKey)}\n`,
);
