import { Transform } from 'node:stream';
import { TarReader } from './tar-reader.js';

/**
 * A tar's bytes without its pax global headers (`g` entries: `git archive` writes one, holding
 * the commit id). Go's archive/tar hands such an entry to its caller, and umoci, which unpacks
 * what it is handed, refuses the layer ("unknown typeflag '\x67'"); containerd and Docker pass
 * over it. Dropped, the layer unpacks everywhere, and no unpacker reads anything less: none of
 * them applies a global header's records to the entries after it.
 *
 * Bytes go on as soon as they are known to lie outside every global header: all but a header
 * block read in part, held back until it is whole.
 */
export function droppingGlobalHeaders(): Transform {
  const cuts: [number, number][] = [];
  const reader = new TarReader({ entry: () => undefined, end: () => {} }, (start, end) => { cuts.push([start, end]); });
  let broken = false;
  let held = Buffer.alloc(0);
  /** Where `held` starts in the tar. */
  let heldAt = 0;
  const keep = (data: Buffer, upTo: number): Buffer => {
    const end = heldAt + upTo;
    const pieces: Buffer[] = [];
    let at = heldAt;
    for (const [from, to] of cuts) {
      if (to <= at || from >= end) continue;
      if (from > at) pieces.push(data.subarray(at - heldAt, from - heldAt));
      at = Math.min(to, end);
    }
    if (at < end) pieces.push(data.subarray(at - heldAt, upTo));
    while (cuts.length > 0 && cuts[0]![1] <= end) cuts.shift();
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  };
  return new Transform({
    readableHighWaterMark: 4 << 20,
    writableHighWaterMark: 4 << 20,
    transform(chunk: Buffer, _enc, callback) {
      // A tar that is not one goes on unchanged: the reader after this one names its problem.
      if (!broken) {
        try { reader.write(chunk); } catch { broken = true; }
      }
      const data = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
      const upTo = data.length - (broken ? 0 : reader.partialBlock);
      const out = keep(data, upTo);
      held = Buffer.from(data.subarray(upTo));
      heldAt += upTo;
      callback(null, out.length > 0 ? out : undefined);
    },
    flush(callback) {
      callback(null, held.length > 0 ? keep(held, held.length) : undefined);
    },
  });
}
