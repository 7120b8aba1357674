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

/** Runs docs/postman/collection.json against the gateway at `baseUrl`; the number of failures. */
export async function runCollection(baseUrl: string): Promise<number> {
  const newman = require('newman') as Newman;
  const summary = await new Promise<NewmanSummary>((resolve, reject) => {
    newman.run(
      {
        collection: path.join(repoRoot, 'docs/postman/collection.json'),
        environment: path.join(repoRoot, 'docs/postman/environment.json'),
        envVar: [{ key: 'baseUrl', value: baseUrl }],
        // File bodies (the sample image) are named relative to the collection.
        workingDir: path.join(repoRoot, 'docs/postman'),
        reporters: ['cli'],
        delayRequest: 50,
        timeoutRequest: 10_000,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  const { assertions, requests } = summary.run.stats;
  process.stdout.write(
    `${assertions.total - assertions.failed} passed, ${assertions.failed} failed\n`,
  );
  return assertions.failed + requests.failed;
}

/**
 * `npm run test:postman`: starts the platform as `npm start` does (fresh data directory,
 * embedded everything) and runs docs/postman/collection.json against it with newman.
 * `-- --base-url URL` runs it against a gateway already running there instead (the demo
 * seller must exist: `npm start` and `npm run fleet` seed it). Exits non-zero when any
 * request's tests fail.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length > 0) {
    if (args[0] !== '--base-url' || !args[1] || args.length > 2) {
      throw new Error(`unknown options: ${args.join(' ')} (known: --base-url URL)`);
    }
    process.exit((await runCollection(args[1])) === 0 ? 0 : 1);
  }
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
    failed = await runCollection(platform.fleet.urls.gateway);
  } finally {
    await platform.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(failed === 0 ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `postman run failed: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
