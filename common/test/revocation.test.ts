import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  MemorySessionRevocations,
  RedisSessionRevocations,
  sessionRevoked,
  sessionVerdict,
} from '@ecom/common/auth';
import { isDependencyUnavailable } from '@ecom/common/errors';
import { describeIfServer, startTcpRelay } from '@ecom/test-support';

// The revoked-session list: a revoked session stays refused for its TTL and no longer; other
// sessions are untouched; while the list cannot be read the verdict is "not revoked", logged.

describe('the in-process list', () => {
  it('refuses a revoked session until its TTL has passed', async () => {
    let now = 1_000_000;
    const list = new MemorySessionRevocations(() => now);
    await list.revoke(['a', 'b'], 60);
    expect(await list.isRevoked('a')).toBe(true);
    expect(await list.isRevoked('c')).toBe(false);
    now += 59_000;
    expect(await list.isRevoked('b')).toBe(true);
    now += 2000;
    expect(await list.isRevoked('a')).toBe(false);
  });

  it('kept in a file, outlives its process: a new list refuses the same sessions until their TTL', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'revocations-'));
    const file = path.join(dir, 'revoked-sessions.json');
    try {
      let now = 1_000_000;
      const first = new MemorySessionRevocations(() => now);
      first.keepIn(file); // no file yet: a first run
      await first.revoke(['gone'], 60);
      await Promise.all([first.revoke(['also'], 120), first.revoke(['third'], 120)]);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // The platform restarts: a new list, the same file.
      now += 30_000;
      const second = new MemorySessionRevocations(() => now);
      second.keepIn(file);
      for (const id of ['gone', 'also', 'third']) expect(await second.isRevoked(id)).toBe(true);
      expect(await second.isRevoked('other')).toBe(false);
      now += 31_000;
      expect(await second.isRevoked('gone')).toBe(false);
      expect(await second.isRevoked('also')).toBe(true);
      // A list that cannot be read is refused, never taken as empty.
      writeFileSync(file, '{"half');
      expect(() => new MemorySessionRevocations().keepIn(file)).toThrow(/not a list/);
      writeFileSync(file, '[]');
      expect(() => new MemorySessionRevocations().keepIn(file)).toThrow(/not a list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers "not revoked" for tokens without a session and without a list', async () => {
    const list = new MemorySessionRevocations();
    await list.revoke(['s'], 60);
    expect(await sessionRevoked(list, undefined)).toBe(false);
    expect(await sessionRevoked(undefined, 's')).toBe(false);
    expect(await sessionRevoked(list, 's')).toBe(true);
  });
});

describeIfServer('redis', 'the list in Redis', (redisUrl) => {
  const prefix = `revocation-test-${process.pid}`;

  it('is shared by every client of the same Redis and namespace', async () => {
    const writer = new RedisSessionRevocations(new Redis(redisUrl), prefix);
    const reader = new RedisSessionRevocations(new Redis(redisUrl), prefix);
    const otherPlatform = new RedisSessionRevocations(new Redis(redisUrl), `${prefix}-other`);
    try {
      await writer.revoke(['s1', 's2'], 30);
      expect(await reader.isRevoked('s1')).toBe(true);
      expect(await reader.isRevoked('s2')).toBe(true);
      expect(await reader.isRevoked('s3')).toBe(false);
      expect(await otherPlatform.isRevoked('s1')).toBe(false);
      const probe = new Redis(redisUrl);
      const ttl = await probe.ttl(`${prefix}:auth:revoked-session:s1`);
      probe.disconnect();
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30);
    } finally {
      await Promise.all([writer.close(), reader.close(), otherPlatform.close()]);
    }
  });

  it('a list Redis may have lost refuses every token older than its new time as stale, the revoked ones as revoked', async () => {
    const ns = `${prefix}-lost-${Date.now()}`;
    const list = new RedisSessionRevocations(new Redis(redisUrl), ns);
    const probe = new Redis(redisUrl);
    const since = `${ns}:auth:revoked-sessions:complete-since`;
    const verdict = (sid: string, iat?: number) => sessionVerdict(list, sid, undefined, iat);
    try {
      // auth marks the list at its start; tokens issued after it pass, revoked ones do not.
      expect(await list.markComplete(1_000)).toBe(true);
      expect(await list.markComplete(2_000)).toBe(false); // the same run of Redis: kept
      await list.revoke(['ended'], 30);
      expect(await verdict('ended', 1_500)).toBe('revoked');
      expect(await verdict('alive', 1_500)).toBeUndefined();
      expect(await verdict('alive', 1_000)).toBeUndefined();
      expect(await verdict('older', 999)).toBe('stale');

      // Redis restarts empty: the revocation and the time are gone.
      await probe.del(`${ns}:auth:revoked-session:ended`, since);
      // Until auth marks it again the list cannot tell, and accepts (as while Redis is away)...
      expect(await verdict('ended', 1_500)).toBeUndefined();
      // ...and once it has, the ended session's token is refused with every one as old.
      expect(await list.markComplete(3_000)).toBe(true);
      expect(await verdict('ended', 1_500)).toBe('stale');
      expect(await verdict('alive', 2_999)).toBe('stale');
      expect(await verdict('fresh', 3_000)).toBeUndefined();
      // Without the token's time (auth's own refresh check) only the list itself counts.
      expect(await verdict('alive')).toBeUndefined();

      // A time set by another run of Redis (a restart that kept its data, a failover): the
      // newest revocations may be missing, so the time is set again.
      await probe.set(since, 'another-run:3000');
      expect(await list.markComplete(4_000)).toBe(true);
      expect(await verdict('fresh', 3_000)).toBe('stale');
      expect(await verdict('newer', 4_000)).toBeUndefined();
    } finally {
      probe.disconnect();
      await list.close();
    }
  });

  it('accepts the token, and says so, while Redis cannot be reached', async () => {
    const relay = await startTcpRelay(redisUrl);
    const client = new Redis(relay.relayed(redisUrl), {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
    });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('ready', resolve));
    const list = new RedisSessionRevocations(client, prefix);
    try {
      await list.revoke(['gone'], 30);
      expect(await sessionRevoked(list, 'gone')).toBe(true);
      relay.cut();
      const warnings: string[] = [];
      expect(await sessionRevoked(list, 'gone', { warn: (m: string) => warnings.push(m) })).toBe(
        false,
      );
      expect(warnings).toEqual(['revocation list unreadable; token accepted']);
      // A revocation that cannot be written is "store unavailable" (503), never a 500.
      const failure = await list.revoke(['x'], 30).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isDependencyUnavailable(failure)).toBe(true);
    } finally {
      client.disconnect();
      await relay.close();
    }
  });
});
