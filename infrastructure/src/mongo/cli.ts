#!/usr/bin/env node
/*
 * Runs the MongoDB stand-in: node infrastructure/dist/mongo/cli.js --port 27017 --data-dir .data/mongo
 * [--no-fsync] [--repl-set rs0]
 */
import { parseArgs } from 'node:util';
import { startMongoStandIn } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.MONGO_STANDIN_PORT ?? '27017' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      // Trade the per-commit fsync for speed (also MONGO_STANDIN_FSYNC=false).
      'no-fsync': { type: 'boolean', default: false },
      // Answer the handshake as the primary of a one-member replica set of this name.
      'repl-set': { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid --port ${values.port}`);
  const standIn = await startMongoStandIn({
    port,
    host: values.host,
    dataDir: values['data-dir'],
    fsync: values['no-fsync'] ? false : undefined,
    replicaSet: values['repl-set'],
    // The server has stopped: the process goes too, so a supervisor sees it and restarts it.
    onFatal: () => process.exit(1),
  });
  console.log(
    `MongoDB stand-in listening on ${standIn.url}${values['data-dir'] ? ` (data in ${values['data-dir']})` : ' (in memory)'}`,
  );
  const shutdown = (): void => {
    standIn.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(
    `mongo stand-in failed to start: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
