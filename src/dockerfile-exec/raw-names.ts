import { isUtf8 } from 'node:buffer';

/**
 * File names are bytes, and docker build sends them as they are: a context file named in
 * Latin-1 (`caf\xe9`) is copied under that name. A JavaScript string cannot hold such a name,
 * and Node replaces the bytes with U+FFFD, a name no file has. So a byte that is not part of
 * valid UTF-8 is kept as the lone surrogate U+DC00 + byte (Python's "surrogateescape"); no
 * valid UTF-8 name decodes to one, so the bytes come back exactly when the name is written
 * into a layer or used to read the disk.
 */

const ESCAPED = /[\udc80-\udcff]/;

/** The name as the bytes on disk give it (valid UTF-8 names are decoded as usual). */
export function nameFromBytes(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= bytes.length && isUtf8(bytes.subarray(i, i + n))) {
      out += bytes.toString('utf8', i, i + n);
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + b);
      i++;
    }
  }
  return out;
}

/** The bytes of a name or path made by nameFromBytes. */
export function nameBytes(name: string): Buffer {
  if (!ESCAPED.test(name)) return Buffer.from(name);
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0xdc80 && code <= 0xdcff) {
      parts.push(Buffer.from(run), Buffer.of(code - 0xdc00));
      run = '';
    } else run += ch;
  }
  parts.push(Buffer.from(run));
  return Buffer.concat(parts);
}

/** A path for the fs calls: the string itself, or its bytes when it holds a name that is not UTF-8. */
export function diskPath(path: string): string | Buffer {
  return ESCAPED.test(path) ? nameBytes(path) : path;
}

/** readdir's names, exact: a name Node could only decode with U+FFFD is read again as bytes. */
export function exactNames(names: string[], readBytes: () => Buffer[]): string[] {
  if (!names.some((name) => name.includes('\ufffd'))) return names;
  return readBytes().map(nameFromBytes);
}
