import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registryFixture } from '../support/registry.js';
import { runCli } from '../support/tools.js';
import { assertOk } from './registry-support.js';
import { envWith } from './copy-support.js';

/**
 * What gc does with ocipush's own notes in a layout: the sources of base layers a build only
 * referenced (`.ocipush-remote-blobs.json`) and the registry cache entries a push is to write
 * (`.ocipush/registry-cache-pending.json`) lose the blobs no image reaches any more, and a temp
 * file a killed writer left beside them goes, as those at the root and in blobs/ do.
 */
describe('gc and the layout\'s notes', () => {
  const fixture = registryFixture();
  const cli = (args: string[]) => runCli(args, { env: { ...process.env, ...envWith() } });

  it('drops the entries of blobs no image reaches, keeps those one does, and clears a dead writer\'s temp file in .ocipush/', () => {
    const tree = (name: string, text: string) => {
      const dir = join(fixture.tmp.path, name);
      mkdirSync(join(dir, 'etc'), { recursive: true });
      writeFileSync(join(dir, 'etc', name), text);
      return dir;
    };
    const baseLayout = join(fixture.tmp.path, 'base');
    assertOk(cli(['build', tree('base-root', 'base\n'), '--layout', baseLayout, '-q']));
    assertOk(cli(['push', `${fixture.registry.host}/base:1`, '--layout', baseLayout, '-q']));
    const baseLayer = (JSON.parse(readFileSync(join(baseLayout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;
    const baseManifest = JSON.parse(readFileSync(join(baseLayout, 'blobs', 'sha256', baseLayer.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const baseLayerDigest = baseManifest.layers[0]!.digest;

    const layout = join(fixture.tmp.path, 'layout');
    assertOk(cli(['build', tree('app-root', 'app\n'), '--base', `${fixture.registry.host}/base:1`, '--cache-repo', `${fixture.registry.host}/cache`, '--layout', layout, '--tag', 'app', '-q']));
    assertOk(cli(['build', tree('kept-root', 'kept\n'), '--base', `${fixture.registry.host}/base:1`, '--cache-repo', `${fixture.registry.host}/cache`, '--layout', layout, '--tag', 'kept', '-q']));
    const remote = () => Object.keys((JSON.parse(readFileSync(join(layout, '.ocipush-remote-blobs.json'), 'utf8')) as { blobs: Record<string, unknown> }).blobs);
    const pending = () => Object.keys((JSON.parse(readFileSync(join(layout, '.ocipush', 'registry-cache-pending.json'), 'utf8')) as { layers: Record<string, unknown> }).layers).sort();
    assert.deepEqual(remote(), [baseLayerDigest]);
    const layersOf = (tag: string) => {
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
      const digest = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!.digest;
      return (JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    };
    const appLayer = layersOf('app')[1]!;
    const keptLayer = layersOf('kept')[1]!;
    assert.deepEqual(pending(), [appLayer, keptLayer].sort());

    // Nothing to forget while every image is there. (--no-cache below: what the layer cache keeps is not the question here.)
    const first = cli(['gc', '--layout', layout, '--json']);
    assertOk(first);
    assert.equal((JSON.parse(first.stdout) as { forgotten: number }).forgotten, 0);
    assert.deepEqual(pending(), [appLayer, keptLayer].sort());

    assertOk(cli(['delete', `oci:${layout}:app`, '-q']));
    // A writer killed between writing a note's temp file and renaming it, long ago.
    const temp = join(layout, '.ocipush', '.registry-cache-pending.json.tmp-999999-0123456789ab');
    writeFileSync(temp, '{}');
    utimesSync(temp, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));

    // --prune=now: app's layer, nothing reaches any more, was written moments ago.
    const dry = cli(['gc', '--layout', layout, '--dry-run', '--no-cache', '--prune=now']);
    assertOk(dry);
    assert.match(dry.stdout + dry.stderr, /would forget 1 note on blobs no image reaches/);
    assert.deepEqual(pending(), [appLayer, keptLayer].sort());
    assert.ok(existsSync(temp));

    assertOk(cli(['gc', '--layout', layout, '--no-cache', '--prune=now']));
    assert.deepEqual(pending(), [keptLayer]);
    assert.deepEqual(remote(), [baseLayerDigest], 'the base layer, which "kept" still names, keeps its source');
    assert.ok(!existsSync(temp), 'the dead writer\'s temp file is cleared');

    assertOk(cli(['delete', `oci:${layout}:kept`, '-q']));
    assertOk(cli(['gc', '--layout', layout, '--no-cache', '-q', '--prune=now']));
    assert.deepEqual(pending(), []);
    assert.deepEqual(remote(), []);
  });
});
