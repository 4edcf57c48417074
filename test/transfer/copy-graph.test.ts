import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tools.js';
import { buildImage } from '../../src/assemble/build-image.js';
import { OciLayout } from '../../src/content/layout.js';
import { copyGraph } from '../../src/transfer/copy-graph.js';

test('a copy cancelled while its last blob goes in stores no manifest, even into a storage that ignores the signal', async () => {
  const tmp = await tempDir('ocipush-copy-graph-');
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'file'), 'cancel me\n');
    const built = await buildImage({ rootfs: [rootfs], layout: join(tmp.path, 'src'), tag: 'app:1' });
    const src = await OciLayout.open(join(tmp.path, 'src'));
    const dst = await OciLayout.open(join(tmp.path, 'dst'), { create: true });
    const root = await src.resolve('app:1');
    const controller = new AbortController();
    await assert.rejects(copyGraph(src, dst, root, {
      signal: controller.signal,
      rootReference: 'app:1',
      // The config is the last blob before the manifest: cancel as it lands.
      onEvent: (e) => { if (e.type === 'done' && e.kind === 'config') controller.abort(); },
    }), { name: 'AbortError' });
    assert.equal(await dst.exists(built.manifest), false, 'the manifest was not stored');
    assert.deepEqual((await dst.readIndex()).manifests, [], 'nothing was tagged');
  } finally {
    await tmp.cleanup();
  }
});

test('a copy that failed reports nothing more: a blob still in flight then lands without an event', async () => {
  const tmp = await tempDir('ocipush-copy-graph-');
  try {
    const layers = ['a', 'b'].map((name) => {
      const dir = join(tmp.path, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'file'), `layer ${name}\n`);
      return dir;
    });
    const built = await buildImage({ rootfs: layers, layout: join(tmp.path, 'src'), tag: 'app:1' });
    const src = await OciLayout.open(join(tmp.path, 'src'));
    const layout = await OciLayout.open(join(tmp.path, 'dst'), { create: true });
    const [failing, slow] = built.layers;
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let slowLanded!: () => void;
    const landed = new Promise<void>((resolve) => { slowLanded = resolve; });
    // The destination layout, but one layer fails at once and the other waits until the copy has failed.
    const dst = new Proxy(layout, {
      get(target, key) {
        if (key === 'push') {
          return async (desc: { digest: string }, ...rest: unknown[]) => {
            if (desc.digest === failing!.digest) throw new Error('disk on fire');
            if (desc.digest === slow!.digest) await released;
            const result = await (target.push as (...args: unknown[]) => Promise<unknown>).call(target, desc, ...rest);
            if (desc.digest === slow!.digest) slowLanded();
            return result;
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const events: string[] = [];
    const root = await src.resolve('app:1');
    await assert.rejects(copyGraph(src, dst, root, { onEvent: (e) => events.push(`${e.type} ${e.descriptor.digest}`) }), /disk on fire/);
    const seen = events.length;
    release();
    await landed;
    assert.ok(await layout.exists(slow!), 'the slow layer did land');
    assert.deepEqual(events.slice(seen), [], 'and said nothing after the failure');
    assert.ok(!events.includes(`done ${slow!.digest}`));
  } finally {
    await tmp.cleanup();
  }
});
