import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import Redis from 'ioredis';

const run = promisify(execFile);

/**
 * Leaves nothing of a test's bus namespace (EVENT_BUS_PREFIX) on the server: on RabbitMQ every
 * queue and exchange named `<prefix>.…` (listed with rabbitmqctl, since AMQP cannot list; the
 * retry queues' names depend on the policy), on Redis every key `<prefix>:…`. Quorum queues
 * left behind cost the broker a Raft member each, and pile up run after run.
 */
export async function removeBusNamespace(
  kind: 'rabbitmq' | 'redis',
  url: string,
  prefix: string,
): Promise<void> {
  if (kind === 'redis') {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    return;
  }
  const list = async (what: 'list_queues' | 'list_exchanges') =>
    (
      await run('rabbitmqctl', [what, 'name', '--quiet', '--no-table-headers'], { timeout: 60_000 })
    ).stdout
      .split('\n')
      .map((n) => n.trim())
      .filter((n) => n.startsWith(`${prefix}.`));
  const conn = await amqp.connect(url);
  try {
    for (const queue of await list('list_queues')) {
      // A channel closes on an error (a queue deleted meanwhile): one per delete.
      const channel = await conn.createChannel();
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
    for (const exchange of await list('list_exchanges')) {
      const channel = await conn.createChannel();
      await channel.deleteExchange(exchange).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  } finally {
    await conn.close();
  }
}
