import { Client } from 'pg';
import express from 'express';
import request from 'supertest';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { isDependencyUnavailable } from '../src/errors';
import { errorHandler } from '../src/http';
import { createLogger } from '../src/logging';

/**
 * A store out of resources (PostgreSQL's class 53: disk full, out of memory, too many
 * connections) is a delay for the client, a 503 to try again, never a 500: the failure
 * passes once the operator or the load frees what it lacks.
 */
describeIfServer('postgres', 'a PostgreSQL server out of resources', (adminUrl) => {
  const role = `ecom_no_connections_${process.pid}`;

  beforeAll(async () => {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      // A role allowed no connection: connecting as it is refused 53300, as a full server is.
      await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
    } finally {
      await admin.end();
    }
  });

  afterAll(async () => {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
  });

  it('is recognised as unavailable and answered 503, whatever the class-53 condition', async () => {
    const url = new URL(adminUrl);
    url.username = role;
    const client = new Client({ connectionString: url.toString() });
    const refused = await client.connect().then(
      () => null,
      (err: unknown) => err,
    );
    await client.end().catch(() => undefined);
    expect(refused).toMatchObject({ code: '53300' });
    expect(isDependencyUnavailable(refused)).toBe(true);

    const app = express();
    app.get('/refused', () => {
      throw refused;
    });
    // What PostgreSQL answers when its disk is full (53100) cannot be made here; the same
    // class, the same answer.
    app.get('/disk-full', () => {
      throw Object.assign(new Error('could not extend file "base/16384/16385"'), {
        code: '53100',
      });
    });
    app.use(errorHandler(createLogger('test', 'silent')));
    for (const path of ['/refused', '/disk-full']) {
      const res = await request(app).get(path);
      expect([path, res.status, res.body.error.code]).toEqual([
        path,
        503,
        'DEPENDENCY_UNAVAILABLE',
      ]);
      expect(JSON.stringify(res.body)).not.toMatch(/extend file|connection/i);
    }
  });
});
