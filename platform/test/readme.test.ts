import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO_ACCOUNTS } from '../src/demo';

// The README's curl walkthrough is docs/walkthrough.sh, which the smoke test runs against a
// started platform; this keeps the two from drifting apart.
const root = path.resolve(__dirname, '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const script = readFileSync(path.join(root, 'docs/walkthrough.sh'), 'utf8');

describe('README', () => {
  it('shows every command of docs/walkthrough.sh', () => {
    const body = script.split('json() {')[1]!.split('\n').slice(1);
    const commands = body.map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(commands.length).toBeGreaterThan(10);
    const missing = commands.filter((line) => !readme.includes(line));
    expect(missing).toEqual([]);
  });

  it('keeps the two commands a newcomer needs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });

  it('names every demo account the launcher creates, with its password', () => {
    for (const account of Object.values(DEMO_ACCOUNTS)) {
      expect(readme).toContain(account.email);
      expect(readme).toContain(account.password);
    }
  });
});
