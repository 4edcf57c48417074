/**
 * Whether a tar entry's path climbs above the directory it is unpacked into: `../x`, `a/../../x`.
 * Read as Go's filepath.Clean reads it (Docker's and containerd's unpackers): `.` and empty parts
 * are nothing, and a leading `/` roots the path, where `..` stays (`/../x` is `/x`).
 */
export function climbsOut(path: Buffer): boolean {
  let depth = 0;
  const rooted = path[0] === SLASH;
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf(SLASH, start);
    if (end < 0) end = path.length;
    const dots = end - start;
    if (dots === 2 && path[start] === DOT && path[start + 1] === DOT) {
      if (depth > 0) depth--;
      else if (!rooted) return true;
    } else if (dots > 0 && !(dots === 1 && path[start] === DOT)) {
      depth++;
    }
    start = end + 1;
  }
  return false;
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * For a whiteout that names no entry of its directory, `.wh.`, `.wh..` or `.wh...` (the OCI spec
 * has none; containerd refuses it, umoci empties the directory for it), what follows its `.wh.`;
 * else undefined.
 */
export function emptyWhiteout(name: Buffer): string | undefined {
  let end = name.length;
  while (end > 0 && name[end - 1] === SLASH) end--;
  const start = name.lastIndexOf(SLASH, end - 1) + 1;
  if (end - start < 4 || end - start > 6) return undefined;
  const base = name.toString('latin1', start, end);
  return base === '.wh.' || base === '.wh..' || base === '.wh...' ? base.slice(4) : undefined;
}

/** What is wrong with such a whiteout, `rest` what follows its `.wh.`. */
export const EMPTY_WHITEOUT = (rest: string): string => `is a whiteout that names no entry (.wh. is followed by ${JSON.stringify(rest)}), which containerd refuses to unpack and umoci takes to empty its directory`;
