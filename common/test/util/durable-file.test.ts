import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileDurably } from '../../src/util';

/** The one durable write the stand-ins, the embedded chain's journal and the monitor share. */
describe('writeFileDurably', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces the file whole, readable by its owner only, and leaves no temporary file', () => {
    const file = path.join(dir, 'state.json');
    writeFileDurably(file, 'old\n');
    writeFileDurably(file, 'new content\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('new content\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });

  it('fails rather than keep a cut file when the disk takes only part (a file-size limit)', () => {
    const file = path.join(dir, 'limited.json');
    writeFileDurably(file, 'whole\n');
    // A child whose files may not pass 4 KiB: SIGXFSZ ignored, so a write past it fails EFBIG
    // after a short write, as on a full disk.
    const script = `
      process.on('SIGXFSZ', () => undefined);
      const { writeFileDurably } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/util'))});
      try { writeFileDurably(${JSON.stringify(file)}, 'x'.repeat(10000)); console.log('written'); }
      catch (err) { console.log('refused ' + err.code); }`;
    const out = execFileSync('prlimit', ['--fsize=4096', process.execPath, '-e', script], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('refused EFBIG');
    expect(fs.readFileSync(file, 'utf8')).toBe('whole\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['limited.json', 'state.json']);
  });
});
