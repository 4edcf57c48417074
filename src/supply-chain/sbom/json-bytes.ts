/**
 * `JSON.stringify(doc) + '\n'` as UTF-8 bytes — compact, as syft writes its JSON SBOMs by default
 * — given out in chunks of about 1 MiB as they are made, so that a caller can write each one
 * while the next is made and never holds the document whole. The top-level arrays named in
 * `large` come as the JSON text of each element: an SBOM names tens of thousands of files, and
 * its hot elements (one per file) are formatted as text by the caller instead of being built as
 * objects and stringified.
 */
export function* jsonChunks(doc: Record<string, unknown>, large: Record<string, Iterable<string>>): Generator<Buffer> {
  const out = new ChunkedBytes();
  // Each large array stands in the skeleton as a marker string; its elements are written where
  // the marker is.
  const markers = new Map<string, Iterable<string>>();
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
    // Elements are gathered into a string of about 64 KiB before each write: one UTF-8 encoding
    // per batch, not per element.
    let batch = '[';
    let first = true;
    for (const element of list) {
      batch += first ? element : `,${element}`;
      first = false;
      if (batch.length >= BATCH) {
        yield* out.text(batch);
        batch = '';
      }
    }
    yield* out.text(`${batch}]`);
    at = where + quoted.length;
  }
  yield* out.text(`${text.slice(at)}\n`);
  yield* out.rest();
}

/** The whole of jsonChunks' output in one buffer. */
export function jsonBytes(doc: Record<string, unknown>, large: Record<string, Iterable<string>>): Buffer {
  return Buffer.concat([...jsonChunks(doc, large)]);
}

/** The JSON text of each value: for the few elements of a large array that are built as objects. */
export function* jsonTexts(values: Iterable<unknown>): Iterable<string> {
  // As in an array JSON.stringify writes, a value JSON has no text for (undefined) is null.
  for (const value of values) yield JSON.stringify(value) ?? 'null';
}

const BATCH = 64 << 10;
const CHUNK = 1 << 20;

/** UTF-8 text gathered into 1 MiB buffers, each given out when full. */
class ChunkedBytes {
  private current = Buffer.allocUnsafe(CHUNK);
  private used = 0;

  /** Adds `s`; gives out the buffer it filled, if it filled one. */
  *text(s: string): Generator<Buffer> {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that, without measuring first.
    if (s.length * 3 > this.current.length - this.used) {
      if (this.used > 0) yield this.current.subarray(0, this.used);
      this.current = Buffer.allocUnsafe(Math.max(CHUNK, s.length * 3));
      this.used = 0;
    }
    this.used += this.current.write(s, this.used);
  }

  *rest(): Generator<Buffer> {
    if (this.used > 0) yield this.current.subarray(0, this.used);
  }
}
