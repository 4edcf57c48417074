import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ZstdFrameScanner } from '../../../src/layer/compress/zstd-frames.js';
import { OcipushError } from '../../../src/errors.js';
import { requireTool } from '../../support/tools.js';
import { randomBytes, textBytes } from './support.js';

/** Frames made by the reference zstd CLI, so the scanner is checked on any Node version. */
function zstdCli(input: Buffer, ...flags: string[]): Buffer {
  requireTool('zstd');
  return execFileSync('zstd', ['-q', '-c', ...flags], { input, maxBuffer: 1 << 28 });
}

function skippable(payload: Buffer, low = 0): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a50 + low, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits `stream` fed in chunks of `chunkSize`, returning each frame's bytes. */
function frames(stream: Buffer, chunkSize: number): Buffer[] {
  const scanner = new ZstdFrameScanner();
  const found: Buffer[] = [];
  let current: Buffer[] = [];
  for (let at = 0; at < stream.length; at += chunkSize) {
    for (const { pieces, end } of scanner.split(stream.subarray(at, at + chunkSize))) {
      current.push(...pieces);
      if (end) {
        found.push(Buffer.concat(current));
        current = [];
      }
    }
  }
  assert.ok(scanner.atBoundary, 'ends between frames');
  assert.equal(current.length, 0);
  return found;
}

test('the scanner cuts zstd streams at frame boundaries and drops skippable frames', () => {
  const text = textBytes(700_000);
  const parts = [
    zstdCli(text), // one frame, large blocks, checksum
    zstdCli(randomBytes(300_000), '--no-check'), // raw blocks, no checksum
    zstdCli(Buffer.alloc(0)), // an empty frame
    zstdCli(Buffer.alloc(200_000, 7), '--no-content-size', '-19'), // RLE blocks
    zstdCli(textBytes(5000), '--no-check', '--no-content-size'),
  ];
  const stream = Buffer.concat([skippable(Buffer.from('zstd:chunked manifest')), parts[0]!, parts[1]!, skippable(Buffer.alloc(0), 15), parts[2]!, parts[3]!, parts[4]!]);
  for (const chunkSize of [1, 3, 4096, 65536, stream.length]) {
    const found = frames(stream, chunkSize);
    assert.equal(found.length, parts.length, `chunks of ${chunkSize}`);
    found.forEach((f, i) => assert.ok(f.equals(parts[i]!), `frame ${i}, chunks of ${chunkSize}`));
  }
});

test('the scanner refuses data that is not zstd', () => {
  assert.throws(() => new ZstdFrameScanner().split(Buffer.from('ustar archive')), (err: unknown) => err instanceof OcipushError && err.code === 'EINVALID');
  const scanner = new ZstdFrameScanner();
  const frame = zstdCli(textBytes(1000));
  scanner.split(frame.subarray(0, 10));
  assert.equal(scanner.atBoundary, false, 'a stream cut inside a frame is not at a boundary');
});
