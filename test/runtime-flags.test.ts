import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { allowFullCollections, collectGarbage } from '../src/runtime-flags.js';

test('collectGarbage runs a full collection once the CLI allowed it: an object only a WeakRef holds is gone', async () => {
  // A WeakRef's target lives at least until the turn that made it ends; then a full collection clears it.
  const ref = (() => new WeakRef({ payload: 'x'.repeat(1024) }))();
  await nextTurn();
  allowFullCollections();
  collectGarbage();
  assert.equal(ref.deref(), undefined);
  // And again, with the collector already reached.
  const again = (() => new WeakRef({ payload: 'y'.repeat(1024) }))();
  await nextTurn();
  collectGarbage();
  assert.equal(again.deref(), undefined);
});
