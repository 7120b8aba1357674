import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { createLogger } from '@ecom/common/logging';
import { busContract, letters } from './contract';

const run = promisify(execFile);
const logger = createLogger('bus-contract');

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 30_000 });
  return stdout;
}

/** Closes, from the broker, every connection whose client-provided name is `name` (close_connection takes its pid). */
async function closeConnectionsNamed(name: string): Promise<number> {
  const rows = (await rabbitmqctl('list_connections', 'pid', 'client_properties'))
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`));
  for (const row of rows) {
    await rabbitmqctl(
      'close_connection',
      row.split('\t')[0],
      'contract test: connection killed by the server',
    );
  }
  return rows.length;
}

/** Deletes every queue and exchange of the test run's namespace. */
async function deleteTopology(url: string, prefix: string): Promise<void> {
  const queues = (await rabbitmqctl('list_queues', 'name'))
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}.`));
  const exchanges = (await rabbitmqctl('list_exchanges', 'name'))
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}.`));
  const conn = await amqp.connect(url);
  const channel = await conn.createChannel();
  for (const queue of queues) await channel.deleteQueue(queue.trim());
  for (const exchange of exchanges) await channel.deleteExchange(exchange.trim());
  await conn.close();
}

describeIfServer('amqp', 'event bus contract: RabbitMQ', (url) => {
  const prefix = `test-bus-${letters(6)}`;
  afterAll(() => deleteTopology(url, prefix));

  busContract({ durable: true }, async () => ({
    createBus: (service, retry) => new RabbitMqEventBus({ url, service, logger, retry, prefix }),
    deadLetters: (bus, group) => (bus as RabbitMqEventBus).readDeadLetters(group),
    publishRaw: (bus, raw, eventType) => (bus as RabbitMqEventBus).publishRaw(raw, eventType),
    async killConnections(service) {
      const killed = await closeConnectionsNamed(`${prefix}:${service}`);
      if (killed === 0) throw new Error(`no RabbitMQ connection named ${prefix}:${service}`);
    },
    async cleanup() {},
  }));
});
