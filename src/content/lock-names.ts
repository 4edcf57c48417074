/**
 * The names a lock at LOCK uses beside it (lock.ts: `LOCK.new-TOKEN` while it is made,
 * `LOCK.dead-ID` once broken), for code that lists a directory without taking locks: kept apart
 * from lock.ts so that reading a layout does not load the locking code.
 */
export function isLockName(name: string, lockName: string): boolean {
  return name === lockName || name.startsWith(`${lockName}.new-`) || name.startsWith(`${lockName}.dead-`);
}
