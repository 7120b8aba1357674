import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImageStorage } from '../domain/ports';

/** Keys are ours (variantKey): anything else is a bug, never a path to follow. */
const KEY = /^[a-z0-9]+(?:[/._-][a-z0-9]+)*\/?$/;

function checked(key: string): string {
  if (!KEY.test(key) || key.includes('..')) throw new Error(`Invalid storage key: ${key}`);
  return key;
}

/** Image objects as files under a directory (the embedded run's data dir). */
export function diskImageStorage(root: string): ImageStorage {
  const file = (key: string) => path.join(root, ...checked(key).split('/'));
  return {
    kind: 'disk',
    async put(key, bytes) {
      const target = file(key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      // Written aside then renamed: a reader never sees half an image.
      const temp = `${target}.${randomUUID()}.tmp`;
      try {
        await fs.writeFile(temp, bytes);
        await fs.rename(temp, target);
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw err;
      }
    },
    async get(key) {
      try {
        return await fs.readFile(file(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async delete(keys) {
      for (const key of keys) await fs.rm(file(key), { force: true });
    },
    async deletePrefix(prefix) {
      await fs.rm(file(prefix), { recursive: true, force: true });
    },
  };
}
