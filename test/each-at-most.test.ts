import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachAtMost } from '../src/each-at-most.js';

/** A task the test finishes by hand: no clock decides the order. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((resolve, reject) => { open = resolve; fail = reject; });
  return { promise, open, fail };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('eachAtMost starts items in order, never more than the limit at once', async () => {
  const gates = Array.from({ length: 5 }, gate);
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const all = eachAtMost(gates, 2, async (g, i) => {
    started.push(i);
    most = Math.max(most, ++running);
    await g.promise;
    running--;
  });
  await turn();
  assert.deepEqual(started, [0, 1]);
  gates[1]!.open();
  await turn();
  assert.deepEqual(started, [0, 1, 2], 'a finished item hands its place to the next');
  for (const g of gates) g.open();
  await all;
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(most, 2);
});

test('after a failure nothing more starts, those running finish, and the first failure is thrown', async () => {
  const gates = Array.from({ length: 6 }, gate);
  const finished: number[] = [];
  const all = eachAtMost(gates, 3, async (g, i) => {
    await g.promise;
    finished.push(i);
  });
  const outcome = all.then(() => undefined, (e: unknown) => e);
  await turn();
  gates[1]!.fail(new Error('item 1 broke'));
  await turn();
  gates[2]!.fail(new Error('item 2 broke too'));
  gates[0]!.open();
  await turn();
  for (const g of gates) g.open();
  assert.match(String(await outcome), /item 1 broke/);
  assert.deepEqual(finished, [0], 'items 3 to 5 never start');
});

test('an empty list is done at once', async () => {
  await eachAtMost([], 4, async () => { throw new Error('never called'); });
});
