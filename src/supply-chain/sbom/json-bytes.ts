/**
 * `JSON.stringify(doc) + '\n'` as UTF-8 bytes — compact, as syft writes its JSON SBOMs by default
 * — where the top-level arrays named in `large` come as the JSON text of each element, written as
 * they come. An SBOM names tens of thousands of files: its hot elements (one per file) are
 * formatted as text by the caller instead of being built as objects and stringified, and the
 * document is never an object graph or one string.
 */
export function jsonBytes(doc: Record<string, unknown>, large: Record<string, Iterable<string>>): Buffer {
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
    out.text(text.slice(at, where));
    // Elements are gathered into a string of about 64 KiB before each write: one UTF-8 encoding
    // per batch, not per element.
    let batch = '[';
    let first = true;
    for (const element of list) {
      batch += first ? element : `,${element}`;
      first = false;
      if (batch.length >= BATCH) {
        out.text(batch);
        batch = '';
      }
    }
    out.text(`${batch}]`);
    at = where + quoted.length;
  }
  out.text(text.slice(at));
  out.text('\n');
  return out.bytes();
}

/** The JSON text of each value: for the few elements of a large array that are built as objects. */
export function* jsonTexts(values: Iterable<unknown>): Iterable<string> {
  // As in an array JSON.stringify writes, a value JSON has no text for (undefined) is null.
  for (const value of values) yield JSON.stringify(value) ?? 'null';
}

const BATCH = 64 << 10;
const CHUNK = 4 << 20;

/** UTF-8 text gathered in 4 MiB buffers, joined once at the end. */
class ChunkedBytes {
  private readonly chunks: Buffer[] = [];
  private current = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private total = 0;

  text(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that, without measuring first.
    if (s.length * 3 > this.current.length - this.used) {
      this.chunks.push(this.current.subarray(0, this.used));
      this.current = Buffer.allocUnsafe(Math.max(CHUNK, s.length * 3));
      this.used = 0;
    }
    const written = this.current.write(s, this.used);
    this.used += written;
    this.total += written;
  }

  bytes(): Buffer {
    this.chunks.push(this.current.subarray(0, this.used));
    return Buffer.concat(this.chunks, this.total);
  }
}
