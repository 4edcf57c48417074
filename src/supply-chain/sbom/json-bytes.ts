/**
 * Elements of a large array that write themselves as bytes, with no string per element:
 * `write(i, bytes, at)` puts element `i` at `bytes[at]`, at most `maxBytes(i)` bytes of it, and
 * returns where it ended.
 */
export interface ByteElements {
  readonly length: number;
  maxBytes(i: number): number;
  write(i: number, bytes: Buffer, at: number): number;
}

/** A large array, in segments one after the other: the JSON text of each element, or elements written as bytes. */
export type LargeArray = readonly (Iterable<string> | ByteElements)[];

function isByteElements(segment: Iterable<string> | ByteElements): segment is ByteElements {
  return typeof (segment as ByteElements).write === 'function';
}

/**
 * `JSON.stringify(doc) + '\n'` as UTF-8 bytes — compact, as syft writes its JSON SBOMs by default
 * — given out in chunks of about 1 MiB as they are made, so that a caller can write each one
 * while the next is made and never holds the document whole. The top-level arrays named in
 * `large` come as the JSON text of each element or as elements that write their own bytes: an
 * SBOM names tens of thousands of files, and its hot elements (one per file) are formatted by the
 * caller instead of being built as objects and stringified.
 */
export function* jsonChunks(doc: Record<string, unknown>, large: Record<string, LargeArray>): Generator<Buffer> {
  const out = new ChunkedBytes();
  // Each large array stands in the skeleton as a marker string; its elements are written where
  // the marker is.
  const markers = new Map<string, LargeArray>();
  const skeleton: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    const list = large[key];
    if (list === undefined) {
      skeleton[key] = value;
      continue;
    }
    const marker = `\u0000ocipush-large-array-${markers.size}\u0000`;
    markers.set(JSON.stringify(marker), list);
    skeleton[key] = marker;
  }
  const text = JSON.stringify(skeleton);
  let at = 0;
  for (const [quoted, list] of markers) {
    const where = text.indexOf(quoted, at);
    yield* out.text(text.slice(at, where));
    // Text elements are gathered into a string of about 64 KiB before each write: one UTF-8
    // encoding per batch, not per element.
    let batch = '[';
    let first = true;
    for (const segment of list) {
      if (isByteElements(segment)) {
        yield* out.text(batch);
        batch = '';
        for (let i = 0; i < segment.length; i++) {
          const max = segment.maxBytes(i);
          const full = out.reserve(max + 1);
          if (full) yield full;
          if (!first) out.bytes[out.used++] = 0x2c; // ','
          const start = out.used;
          out.used = segment.write(i, out.bytes, start);
          // Past its room an element would be cut off silently (a typed array drops what does
          // not fit) whenever it fell at the end of a chunk: a wrong bound fails every time instead.
          if (out.used - start > max) throw new Error(`a JSON element took ${out.used - start} bytes, more than the ${max} it declared`);
          first = false;
        }
        continue;
      }
      for (const element of segment) {
        batch += first ? element : `,${element}`;
        first = false;
        if (batch.length >= BATCH) {
          yield* out.text(batch);
          batch = '';
        }
      }
    }
    yield* out.text(`${batch}]`);
    at = where + quoted.length;
  }
  yield* out.text(`${text.slice(at)}\n`);
  yield* out.rest();
}

/** The whole of jsonChunks' output in one buffer. */
export function jsonBytes(doc: Record<string, unknown>, large: Record<string, LargeArray>): Buffer {
  return Buffer.concat([...jsonChunks(doc, large)]);
}

/** The JSON text of each value: for the few elements of a large array that are built as objects. */
export function* jsonTexts(values: Iterable<unknown>): Iterable<string> {
  // As in an array JSON.stringify writes, a value JSON has no text for (undefined) is null.
  for (const value of values) yield JSON.stringify(value) ?? 'null';
}

const BATCH = 64 << 10;
const CHUNK = 1 << 20;

/**
 * Bytes gathered into 1 MiB buffers, each given out when full (and never written again: a
 * consumer may keep it). Text goes in through `text`; byte elements write at `bytes[used]`
 * themselves, after `reserve`.
 */
class ChunkedBytes {
  bytes = Buffer.allocUnsafe(CHUNK);
  used = 0;

  /** Makes room for `n` more bytes; returns the buffer that had to be given out for it, if any. */
  reserve(n: number): Buffer | undefined {
    if (n <= this.bytes.length - this.used) return undefined;
    const full = this.used > 0 ? this.bytes.subarray(0, this.used) : undefined;
    this.bytes = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.used = 0;
    return full;
  }

  /** Adds `s`; gives out the buffer it filled, if it filled one. */
  *text(s: string): Generator<Buffer> {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that, without measuring first.
    const full = this.reserve(s.length * 3);
    if (full) yield full;
    this.used += this.bytes.write(s, this.used);
  }

  *rest(): Generator<Buffer> {
    if (this.used > 0) yield this.bytes.subarray(0, this.used);
  }
}
