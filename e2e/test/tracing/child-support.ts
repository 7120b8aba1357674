import { request as httpRequest, createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the tracing child processes share: serve `listener` on a free port, send it one GET
 * continuing `traceparent`, and close; and a main that exits 0, or 1 with the stack.
 */
export async function serveOneRequest(
  listener: RequestListener,
  path: string,
  traceparent: string | undefined,
): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      httpRequest(
        { port, host: '127.0.0.1', path, headers: traceparent ? { traceparent } : {} },
        (res) => res.resume().on('end', resolve),
      )
        .on('error', reject)
        .end();
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

export function runChild(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
