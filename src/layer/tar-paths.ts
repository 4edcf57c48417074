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
