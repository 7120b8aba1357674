import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createEvent, createEventBus, type EventBus } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  createTestPostgres,
  describeIfServer,
  eventually,
  removeBusNamespace,
  requestsAs,
  sleep,
  type TestPostgres,
} from '@ecom/test-support';
import { notificationService, type RunningNotificationService } from '../src/service';
import { SMTP_PORTS, STARTUP_TIMEOUT_MS, TestSmtp, testConfig } from './support';

describeIfServer('amqp', 'notification service over RabbitMQ, two replicas', (amqpUrl) => {
  const prefix = `notif-${randomUUID().slice(0, 8)}`;
  const busEnv = { EVENT_BUS: 'rabbitmq', AMQP_URL: amqpUrl, EVENT_BUS_PREFIX: prefix } as const;
  let db: TestPostgres;
  let smtp: TestSmtp;
  let publisher: EventBus;
  const replicas: RunningNotificationService[] = [];
  const alice = { id: `user-${randomUUID()}`, role: 'customer' as const };

  beforeAll(async () => {
    db = await createTestPostgres('notification_rabbitmq');
    smtp = new TestSmtp(SMTP_PORTS.rabbitmq);
    await smtp.start();
    // Two replicas on one database and one consumer group: each event is handled by one of
    // them, and the sender runs one pass at a time across both.
    for (let i = 0; i < 2; i += 1) {
      replicas.push(
        await notificationService.start({ config: testConfig(db.url, smtp.port, busEnv) }),
      );
    }
    publisher = createEventBus(busEnv, {
      service: 'notification-test-publisher',
      logger: createLogger('publisher', 'silent'),
    });
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await publisher?.close();
    await smtp?.stop();
    await db?.cleanup();
    await removeBusNamespace('rabbitmq', amqpUrl, prefix);
  }, STARTUP_TIMEOUT_MS);

  it('mails each customer once per event, a duplicate delivery included', async () => {
    await publisher.publish(
      createEvent('auth-service', 'user.created', {
        userId: alice.id,
        email: 'alice@example.test',
        name: 'Alice',
        role: 'customer',
      }),
    );
    const orders = [randomUUID(), randomUUID(), randomUUID()];
    for (const orderId of orders) {
      const confirmed = createEvent('order-service', 'order.confirmed', {
        orderId,
        userId: alice.id,
        items: [{ productId: 'p1', quantity: 2 }],
        total: { amount: 999, currency: 'EUR' },
      });
      await publisher.publish(confirmed);
      await publisher.publish(confirmed); // delivered twice
    }
    const api = () => request(replicas[1]!.app);
    await eventually(
      async () => {
        const res = await requestsAs(api, alice).get('/api/notifications?status=SENT');
        return res.body.total === orders.length;
      },
      { what: 'three notifications SENT', timeoutMs: 30_000 },
    );
    await sleep(1000); // room for a wrong second send by the other replica
    for (const orderId of orders) {
      expect(smtp.mails.filter((m) => m.raw.includes(orderId))).toHaveLength(1);
    }
    expect(smtp.to('alice@example.test')).toHaveLength(orders.length);
  }, 60_000);
});
