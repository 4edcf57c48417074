import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Output } from '../../src/cli/output.js';
import { TransferProgress } from '../../src/cli/progress.js';
import { registerSecret } from '../../src/redact.js';

/** A stand-in for stderr that keeps what was written, on a terminal or not. */
function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = { isTTY, columns: 100, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

// On a terminal, a notice (why an upload starts again, in the registry's words) went to stderr as
// it was: unlike the same line off a terminal (Output.info), a credential in it was not taken out
// and an escape sequence in it reached the terminal.
test('a notice is printed with credentials taken out and control characters escaped, on a terminal as in a log', () => {
  const secret = 'progress-test-secret-1234';
  registerSecret(secret);
  const digest: `sha256:${string}` = `sha256:${'ab'.repeat(32)}`;
  for (const isTTY of [true, false]) {
    const err = capture(isTTY);
    const out = new Output({}, capture(false).stream, err.stream);
    const progress = new TransferProgress(out, { active: 'pushing', transferred: 'uploaded' }, err.stream);
    progress.handle({ type: 'notice', descriptor: { mediaType: 'application/octet-stream', digest, size: 1 }, kind: 'layer', message: `${digest}: 500 from the registry: token ${secret}\x1b]0;owned\x07; starting the upload again` });
    progress.finish();
    const text = err.text();
    assert.doesNotMatch(text, new RegExp(secret), `isTTY ${isTTY}`);
    assert.doesNotMatch(text, /\x07|\x1b\]/, `isTTY ${isTTY}`);
    assert.match(text, /^layer sha256:abababababab: 500 from the registry: token <redacted>\\x1b\]0;owned\\x07; starting the upload again\n$/m);
  }
});

// A terminal narrower than 41 columns (a split tmux pane) got 40-column bars: each wrapped to two
// rows, the redraw moved up one row per bar, and every redraw left a stale copy behind.
test('on a narrow terminal each bar fits in one row, so a redraw erases all of it', () => {
  const columns = 30;
  let text = '';
  const stream = { isTTY: true, columns, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  const out = new Output({}, capture(false).stream, stream);
  const progress = new TransferProgress(out, { active: 'pushing', transferred: 'uploaded' }, stream);
  const digest: `sha256:${string}` = `sha256:${'cd'.repeat(32)}`;
  const descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 200 << 20 };
  progress.handle({ type: 'start', descriptor, kind: 'layer' });
  progress.handle({ type: 'progress', descriptor, kind: 'layer', bytes: 50 << 20 });
  // A permanent line redraws the bars at once (no timer).
  progress.notice('retrying');
  progress.finish();
  // eslint-disable-next-line no-control-regex
  const rows = text.replace(/\x1b\[[0-9]*[A-Za-z]|\r/g, '').split('\n').filter(Boolean);
  assert.ok(rows.some((r) => r.startsWith('layer sha256:cdcd')), 'a bar was drawn');
  for (const row of rows) assert.ok(row.length < columns, `${JSON.stringify(row)} fits in ${columns} columns`);
});

// More blobs in flight than the terminal has rows (--concurrency 32 in 24 rows): the cursor cannot
// move above the top of the screen, so the bars scrolled off were never erased, and piled up.
test('with more blobs in flight than rows, the bars fit in the screen, the rest counted in one line', () => {
  let text = '';
  const stream = { isTTY: true, columns: 100, rows: 6, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  const out = new Output({}, capture(false).stream, stream);
  const progress = new TransferProgress(out, { active: 'pushing', transferred: 'uploaded' }, stream);
  for (let i = 0; i < 12; i++) {
    const digest: `sha256:${string}` = `sha256:${i.toString(16).padStart(2, '0').repeat(32)}`;
    progress.handle({ type: 'start', descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1 << 20 }, kind: 'layer' });
  }
  progress.notice('retrying');
  const drawn = text.slice(text.lastIndexOf('retrying\n') + 'retrying\n'.length).split('\n').filter(Boolean);
  progress.finish();
  assert.equal(drawn.length, 5, drawn.join('\n'));
  assert.equal(drawn.at(-1), '… and 8 more');
  // The erase moves up as many rows as were drawn.
  assert.ok(text.endsWith('\x1b[5A\r\x1b[J'));
});

// Off a terminal a transfer printed a line when a blob started and one when it ended, nothing in
// between: an upload of a large layer over a slow link was silent for longer than CI services let
// a job be (they end one that printed nothing for ten minutes). Now, as a build's layers, a line
// per blob in flight at each interval.
test('off a terminal, a line per blob in flight at each interval (the clock injected), none sooner', () => {
  const err = capture(false);
  const out = new Output({}, capture(false).stream, err.stream);
  let now = 1_000_000;
  const progress = new TransferProgress(out, { active: 'pushing', transferred: 'uploaded' }, err.stream, { logEveryMs: 10_000, now: () => now });
  const digest: `sha256:${string}` = `sha256:${'ef'.repeat(32)}`;
  const descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 100 << 20 };
  progress.handle({ type: 'start', descriptor, kind: 'layer' });
  now += 9_000;
  progress.handle({ type: 'progress', descriptor, kind: 'layer', bytes: 10 << 20 });
  now += 2_000;
  progress.handle({ type: 'progress', descriptor, kind: 'layer', bytes: 22 << 20 });
  now += 1_000;
  progress.handle({ type: 'progress', descriptor, kind: 'layer', bytes: 24 << 20 });
  now += 10_000;
  progress.handle({ type: 'progress', descriptor, kind: 'layer', bytes: 50 << 20 });
  progress.handle({ type: 'done', descriptor, kind: 'layer', outcome: 'uploaded' });
  progress.finish();
  assert.deepEqual(err.text().trimEnd().split('\n'), [
    'pushing layer sha256:efefefefefef (100 MiB)',
    'pushing layer sha256:efefefefefef: 22.0 MiB / 100 MiB (2.0 MiB/s)',
    'pushing layer sha256:efefefefefef: 50.0 MiB / 100 MiB (2.3 MiB/s)',
    'layer sha256:efefefefefef (100 MiB) uploaded in 22.0 s',
  ]);
});
