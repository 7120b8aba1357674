import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningPorts } from '../src/start';
import { EXTERNAL_SERVER_VARIABLES } from '../src/stores';

/** Variables that would make a test platform use a developer's servers or admin instead. */
const EXTERNAL = [...EXTERNAL_SERVER_VARIABLES, 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'ADMIN_NAME'];

/**
 * Ports of a test platform: `base` (gateway), base+1..6 (services), base+17 (MongoDB),
 * base+25/26 (mail catcher: SMTP, inbox), base+433..435 (PostgreSQL), base+545 (chain). Each
 * test file takes its own thousand (13000, 14000, ...) so files run side by side and beside a
 * developer's `npm start`.
 */
export function platformPorts(base: number): RunningPorts {
  return {
    services: {
      gateway: base,
      auth: base + 1,
      product: base + 2,
      comments: base + 3,
      payment: base + 4,
      order: base + 5,
      notification: base + 6,
    },
    mongo: base + 17,
    orderDb: base + 433,
    paymentDb: base + 434,
    notificationDb: base + 435,
    mailSmtp: base + 25,
    mailInbox: base + 26,
    chain: base + 545,
  };
}

/** The platform exactly as `npm start` runs it on a fresh machine (embedded everything), quiet and fast. */
export function embeddedEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !EXTERNAL.includes(k))),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
    ...extra,
  } as NodeJS.ProcessEnv;
}

/** A shipping address for a test order, in `name`'s name. */
export const testAddress = (name: string) => ({
  name,
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
});

export function tempDataDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ecom-${label}-`));
}
