import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Spill files under DATA_DIR: what a writer could not give PostgreSQL (the audit trail's events,
 * usage counts), kept on disk and replayed later, each file once (its id is recorded by the
 * replaying transaction). Shared by the audit writer and the usage counter.
 */

/** A new spill file's id: time-ordered, unique across processes. */
export function newSpillId(): string {
  return `${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Writes `text` to `dir/<id><suffix>` atomically (a temporary file, 0600, fsynced, then renamed),
 * creating `dir` (0700). Throws when it cannot.
 */
export function writeSpillFile(dir: string, id: string, suffix: string, text: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${id}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, id + suffix));
}

/**
 * The files of `dir` to replay, oldest first: those ending in `suffix`, and those a process that
 * has died had claimed (`<file>.replaying.<pid>`). None when the directory does not exist.
 */
export function spillFilesToReplay(dir: string, suffix: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(suffix) || orphanedReplay(f))
      .sort();
  } catch {
    return []; // no directory: nothing was ever spilled
  }
}

/**
 * Claims a file of {@link spillFilesToReplay} for this process (renamed `….replaying.<pid>`:
 * another replica sharing DATA_DIR may take it first, then undefined). `claimed` is the path to
 * read and delete; `release()` gives it back when the replay failed.
 */
export function claimSpillFile(
  dir: string,
  file: string,
): { claimed: string; release(): void } | undefined {
  const path = join(dir, file);
  const unclaimed = path.replace(/\.replaying\.\d+$/, '');
  const claimed = `${unclaimed}.replaying.${process.pid}`;
  try {
    renameSync(path, claimed);
  } catch {
    return undefined;
  }
  return { claimed, release: () => renameSync(claimed, unclaimed) };
}

/** `<file>.replaying.<pid>` of a process that no longer runs. */
function orphanedReplay(file: string): boolean {
  const match = /\.replaying\.(\d+)$/.exec(file);
  if (!match) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
