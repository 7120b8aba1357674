import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

// Domain code knows no Express and no driver: loading every service's domain modules, in a
// fresh process, must not load a store driver, a broker client, ethers, Express or winston.
// (Jest's own module registry cannot tell, so a child process does the loading.)
const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const probe = path.join(__dirname, 'fixtures/loaded-packages.ts');

function load(files: string[]): { modules: number; heavy: string[] } {
  const out = execFileSync(
    tsx,
    ['--tsconfig', path.join(root, 'tsconfig.tests.json'), probe, ...files],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as { modules: number; heavy: string[] };
}

const services = readdirSync(path.join(root, 'services'));

describe('module footprint', () => {
  it.each(services)(
    'the %s service domain loads no driver, broker, ethers or Express',
    (service) => {
      const dir = path.join(root, 'services', service, 'src/domain');
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(dir, f));
      expect(files.length).toBeGreaterThan(0);
      const result = load(files);
      expect(result.heavy).toEqual([]);
    },
  );

  it('the probe does see a heavy package when one is loaded (so the check is not vacuous)', () => {
    expect(load([path.join(root, 'common/src/postgres/index.ts')]).heavy).toContain('pg');
  });
});
