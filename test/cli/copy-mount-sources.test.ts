import assert from 'node:assert/strict';
import { join } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import { copy } from '../../src/index.js';
import { registryFixture, type AccessEntry } from '../support/registry.js';
import { runCli } from '../support/tools.js';
import { blobWrites, umociImage } from '../registry/support.js';

type Transferred = { blobs: { digest: string; outcome: string }[] };

/**
 * A layout records the repositories its blobs were pushed to, so a later push of an image sharing
 * them to another repository of that registry mounts them (as docker does). `copy oci:DIR …` is
 * how crane and skopeo users put a layout in a registry: it records them too, and forgets a
 * repository that declined a mount, as push does.
 */
describe('copy out of a layout records where its blobs went', () => {
  const fixture = registryFixture();

  beforeEach(async () => {
    await fixture.registry.forgetAccessLog();
  });

  const mountsFrom = (log: AccessEntry[], repository: string) => log
    .filter((e) => e.method === 'POST' && new URLSearchParams(e.uri.split('?')[1]).get('from') === repository).map((e) => e.status);
  const copyCli = (layout: string, to: string) => JSON.parse(runCli(['copy', `oci:${layout}:r`, `${fixture.registry.host}/${to}`, '--json']).stdout) as Transferred;
  const pushCli = (layout: string, to: string) => JSON.parse(runCli(['push', `${fixture.registry.host}/${to}`, '--layout', layout, '--json']).stdout) as Transferred;

  it('the CLI copy: a later push of the layout to another repository mounts its blobs from the one copied to', async () => {
    const layout = join(fixture.tmp.path, 'cli-layout');
    umociImage(fixture.tmp.path, 'r', [300_000], layout);
    assert.deepEqual(copyCli(layout, 'cm/first:1').blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    await fixture.registry.forgetAccessLog();
    assert.deepEqual(pushCli(layout, 'cm/second:1').blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    const log = await fixture.registry.settledAccessLog();
    assert.deepEqual(mountsFrom(log, 'cm/first'), [201, 201]);
    assert.deepEqual(blobWrites(log), []);
  });

  it('the library copy records them as well', async () => {
    const layout = join(fixture.tmp.path, 'lib-layout');
    umociImage(fixture.tmp.path, 'r', [200_000], layout);
    const copied = await copy({ from: `oci:${layout}:r`, to: `${fixture.registry.host}/cm/lib-first:1` });
    assert.deepEqual(copied.blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    await fixture.registry.forgetAccessLog();
    assert.deepEqual(pushCli(layout, 'cm/lib-second:1').blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    assert.deepEqual(mountsFrom(await fixture.registry.settledAccessLog(), 'cm/lib-first'), [201, 201]);
  });

  it('a repository that declined a copy\'s mount (its blobs deleted) is not asked again', async () => {
    const layout = join(fixture.tmp.path, 'forget-layout');
    umociImage(fixture.tmp.path, 'r', [100_000], layout);
    const gone = copyCli(layout, 'cm/gone:1');
    // The registry's own blob DELETE: the repository no longer holds them.
    for (const b of gone.blobs) assert.equal((await fetch(`${fixture.registry.url}/v2/cm/gone/blobs/${b.digest}`, { method: 'DELETE' })).status, 202);
    await fixture.registry.forgetAccessLog();
    assert.deepEqual(copyCli(layout, 'cm/next:1').blobs.map((b) => b.outcome), ['uploaded', 'uploaded']);
    assert.deepEqual(mountsFrom(await fixture.registry.settledAccessLog(), 'cm/gone'), [202, 202], 'each blob asked for once, declined');
    await fixture.registry.forgetAccessLog();
    assert.deepEqual(copyCli(layout, 'cm/after:1').blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    const log = await fixture.registry.settledAccessLog();
    assert.deepEqual(mountsFrom(log, 'cm/gone'), [], 'forgotten');
    assert.deepEqual(mountsFrom(log, 'cm/next'), [201, 201]);
  });
});
