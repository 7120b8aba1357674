import { generateKeyPairSync } from 'node:crypto';

/** An ES256 (P-256) key pair in PEM, for development, the embedded run and tests. */
export function generateEs256KeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKey, publicKey };
}
