import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './data-dir';
import { startPlatform } from './start';
import { EXTERNAL_SERVER_VARIABLES } from './stores';

interface NewmanSummary {
  run: {
    stats: {
      assertions: { total: number; failed: number };
      requests: { total: number; failed: number };
    };
    failures: { source?: { name?: string }; error: { message: string; test?: string } }[];
  };
}
type Newman = {
  run(
    options: Record<string, unknown>,
    callback: (err: Error | null, summary: NewmanSummary) => void,
  ): void;
};

/**
 * `npm run test:postman`: starts the platform as `npm start` does (fresh data directory,
 * embedded everything) and runs docs/postman/collection.json against it with newman.
 * Exits non-zero when any request's tests fail.
 */
async function main(): Promise<void> {
  const newman = require('newman') as Newman;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecom-postman-'));
  const env = Object.fromEntries(
    // Servers the CI machine has, which a fresh machine's `npm start` would not use.
    Object.entries(process.env).filter(([k]) => !EXTERNAL_SERVER_VARIABLES.includes(k)),
  ) as NodeJS.ProcessEnv;
  const platform = await startPlatform({
    env: { ...env, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
  });
  let failed = 1;
  try {
    const summary = await new Promise<NewmanSummary>((resolve, reject) => {
      newman.run(
        {
          collection: path.join(repoRoot, 'docs/postman/collection.json'),
          environment: path.join(repoRoot, 'docs/postman/environment.json'),
          envVar: [{ key: 'baseUrl', value: platform.fleet.urls.gateway }],
          reporters: ['cli'],
          delayRequest: 50,
          timeoutRequest: 10_000,
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
    });
    const { assertions, requests } = summary.run.stats;
    failed = assertions.failed + requests.failed;
    process.stdout.write(
      `${assertions.total - assertions.failed} passed, ${assertions.failed} failed\n`,
    );
  } finally {
    await platform.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`postman run failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
