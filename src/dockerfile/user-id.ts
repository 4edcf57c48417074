/**
 * One part of `--chown=user:group` or of the USER a WORKDIR is made for, as llb's parseUID reads
 * it: `root` is 0; a decimal Go's strconv.ParseInt(s, 10, 32) takes (a sign allowed, -2^31 to
 * 2^31-1) is an id, sent as a uint32 (`-2` is 4294967294); anything else, `3000000000` too, is a
 * name to look up (undefined here). `-1` reaches lchown as -1, which changes nothing: the copy
 * keeps the owner BuildKit (root) created it with, 0.
 */
export function llbUserId(text: string): number | undefined {
  if (text === 'root') return 0;
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  if (n < -(2 ** 31) || n > 2 ** 31 - 1) return undefined;
  return n === -1 ? 0 : n >>> 0;
}
