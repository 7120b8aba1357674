import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes every byte of `data`, or throws. A write that meets a full disk (or a file-size
 * limit) may first write part of it and report the shorter count without an error; the rest,
 * written again, then fails with the reason. Taking the short count for success would
 * acknowledge a torn journal entry, or rename a cut file over a whole one.
 */
export function writeAll(fd: number, data: Buffer | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let at = 0; at < bytes.length;) {
    const written = fs.writeSync(fd, bytes, at, bytes.length - at);
    if (written <= 0) throw new Error(`write made no progress at byte ${at}`);
    at += written;
  }
}

/** Makes a rename in the directory durable (where the platform allows fsync on a directory). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported here (e.g. Windows): the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Replaces `file` so that a crash leaves the old content or the new, never part of either: a
 * temporary file beside it, written whole and flushed, renamed over it, the directory flushed so
 * the rename survives a power cut. The file is readable by its owner only.
 */
export function writeFileDurably(file: string, data: Buffer | string, mode = 0o600): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(temp, 'w', mode);
  try {
    writeAll(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(temp, file);
  syncDirectory(path.dirname(file));
}
