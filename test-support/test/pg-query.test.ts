import { Client } from 'pg';
import { createTestPostgres, describeIfServer, testPool, type TestPostgres } from '../src';

describeIfServer('postgres', 'testPool (real PostgreSQL)', (adminUrl) => {
  let db: TestPostgres;
  beforeAll(async () => {
    db = await createTestPostgres('test_pool');
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('rides out an idle connection the server ends: the next query gets a new one', async () => {
    const pool = testPool(db.url, 1);
    try {
      const first = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query('SELECT pg_terminate_backend($1)', [first]);
      } finally {
        await admin.end();
      }
      // Let the FATAL reach the idle client: without a listener its 'error' ends this file.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      expect(second).not.toBe(first);
    } finally {
      await pool.end();
    }
  });
});
