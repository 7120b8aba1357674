import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Joi from 'joi';
import { anchoringConfigKeys, loadAnchorDeployment } from '../../src/anchoring';

const schema = Joi.object(anchoringConfigKeys);
const KEY = `0x${'ab'.repeat(32)}`;

describe('anchoring configuration', () => {
  it('applies defaults and accepts a full configuration', () => {
    const { error, value } = schema.validate({
      BLOCKCHAIN_RPC_URL: 'http://127.0.0.1:8545',
      ANCHOR_PRIVATE_KEY: KEY,
      ANCHOR_CONTRACT_ADDRESS: `0x${'12'.repeat(20)}`,
    });
    expect(error).toBeUndefined();
    expect(value).toMatchObject({
      ANCHOR_CHAIN_ID: 31337,
      ANCHOR_WINDOW_MS: 1000,
      ANCHOR_MAX_BATCH: 500,
      ANCHOR_DEPLOY: false,
      ANCHOR_NAME_FIELDS: true,
    });
    expect(schema.validate({ ANCHOR_NAME_FIELDS: 'false' }, { convert: true }).value).toMatchObject(
      { ANCHOR_NAME_FIELDS: false },
    );
  });

  it('needs the anchorer key once an RPC URL is given, and rejects malformed values', () => {
    expect(schema.validate({ BLOCKCHAIN_RPC_URL: 'http://x:8545' }).error?.message).toMatch(
      /ANCHOR_PRIVATE_KEY/,
    );
    expect(schema.validate({}).error).toBeUndefined(); // embedded run: the launcher provides it
    expect(
      schema.validate({ BLOCKCHAIN_RPC_URL: 'ws://x:8545', ANCHOR_PRIVATE_KEY: KEY }).error,
    ).toBeDefined();
    expect(schema.validate({ ANCHOR_CONTRACT_ADDRESS: '0x1234' }).error).toBeDefined();
    expect(schema.validate({ ANCHOR_MAX_BATCH: 0 }).error).toBeDefined();
  });

  it('reads the deployment file written by scripts/deploy.ts and names a bad one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'anchor-deploy-'));
    const good = path.join(dir, 'localhost.json');
    writeFileSync(
      good,
      JSON.stringify({
        network: 'localhost',
        chainId: 31337,
        address: `0x${'cd'.repeat(20)}`,
        abi: [],
      }),
    );
    expect(loadAnchorDeployment(good)).toEqual({ chainId: 31337, address: `0x${'cd'.repeat(20)}` });
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ chainId: 31337 }));
    expect(() => loadAnchorDeployment(bad)).toThrow(/invalid AuditAnchor deployment .*address/);
    expect(() => loadAnchorDeployment(path.join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
