import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDataDir, legacyChainNote } from '../src/data-dir';

describe('ensureDataDir', () => {
  let root: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'data-dir-'));
  });

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('creates the directory for its owner only, with its marker', () => {
    const dir = path.join(root, 'nested', 'data');
    ensureDataDir(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(path.join(dir, '.ecom-data'))).toBe(true);
  });

  it('fails, naming the directory and the setting to change, where it cannot be made (never hangs: Node spins under /proc)', () => {
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, '');
    for (const dir of [path.join(file, 'data'), '/proc/no-such-dir/data']) {
      let message = '';
      try {
        ensureDataDir(dir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain(`the data directory ${dir} cannot be created or written`);
      expect(message).toMatch(/\((ENOTDIR|ENOENT|EACCES|EROFS)\)/);
      expect(message).toContain('set DATA_DIR');
    }
  });

  it('tells the operator of a seeded data directory without a kept chain what a start does to its promises', () => {
    const dir = path.join(root, 'legacy');
    ensureDataDir(dir);
    expect(legacyChainNote(dir, {})).toBeNull(); // fresh: nothing to say
    fs.writeFileSync(path.join(dir, 'seeded'), '');
    expect(legacyChainNote(dir, {})).toMatch(/anchored again.*public keys.*--reset/);
    expect(legacyChainNote(dir, { BLOCKCHAIN_RPC_URL: 'http://chain:8545' })).toBeNull();
    fs.mkdirSync(path.join(dir, 'chain'));
    expect(legacyChainNote(dir, {})).toBeNull(); // its chain is kept: nothing changes
  });
});
