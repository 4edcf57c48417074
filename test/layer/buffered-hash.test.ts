import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { BufferedHash } from '../../src/layer/buffered-hash.js';

it('BufferedHash gives the digest of hash.update with the same parts, across its buffer and past it', () => {
  // Short fields, non-ASCII and a lone surrogate (UTF-8 replacement, as hash.update writes it),
  // bytes, and parts larger than the 64 KiB buffer, in an order that fills and crosses it.
  const parts: (string | Uint8Array)[] = [];
  for (let i = 0; i < 5000; i++) {
    parts.push(`entry-${i}/\u00e9\u{1F600}\0`, Uint8Array.from([i & 0xff, 0, 255]), i % 997 === 0 ? '\ud800 lone' : ' 0644 0 0 ');
    if (i % 1500 === 0) parts.push('x'.repeat(70_000), new Uint8Array(100_000).fill(i & 0xff), '\u00e9'.repeat(30_000));
  }
  const plain = createHash('sha256');
  const buffered = new BufferedHash();
  for (const part of parts) {
    plain.update(part);
    buffered.add(part);
  }
  assert.equal(buffered.hex(), plain.digest('hex'));
  assert.equal(new BufferedHash('sha1').hex(), createHash('sha1').digest('hex'));
});
