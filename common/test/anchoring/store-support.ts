import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createTestPostgres } from '@ecom/test-support';
import { anchorMigrations, onChainBatchId, PgAnchorStore } from '../../src/anchoring';
import { createPgPool, runMigrations } from '../../src/postgres';

/** An anchoring store on a database of its own, migrated; `close` ends it and drops it. */
export interface AnchorStoreOnDb {
  pool: Pool;
  store: PgAnchorStore;
  /** A batch holding these entries, pending, on a test chain (the proofs are empty). */
  batch(recordIds: string[]): Promise<string>;
  close(): Promise<void>;
}

const chain = { chainId: 31337, genesisHash: `0x${'11'.repeat(32)}`, contractAddress: '0xabc' };

export async function anchorStoreOnDb(name: string, connections = 2): Promise<AnchorStoreOnDb> {
  const db = await createTestPostgres(name);
  const pool = createPgPool(db.url, connections);
  await runMigrations(pool, anchorMigrations);
  const store = new PgAnchorStore(pool);
  return {
    pool,
    store,
    async batch(recordIds) {
      const id = randomUUID();
      await store.createBatch({ id, onChainId: onChainBatchId(id), chain }, recordIds, {
        root: `0x${'22'.repeat(32)}`,
        previousRoot: `0x${'00'.repeat(32)}`,
        proofs: new Map(recordIds.map((r) => [r, []])),
      });
      return id;
    },
    async close() {
      await pool.end();
      await db.cleanup();
    },
  };
}
