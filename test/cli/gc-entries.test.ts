import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { storeLayoutReferrer } from '../../src/content/layout-referrers.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk } from './registry-support.js';
import { validate } from './json-schema.js';
import { validateLayout } from '../assemble/support.js';

interface Entry { digest: string; artifactType?: string; annotations?: Record<string, string> }
interface GcJson { dryRun: boolean; removed: { digest: string }[]; dropped: { digest: string; reason: string; subject?: string; name?: string }[] }

const entries = (dir: string): Entry[] => (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Entry[] }).manifests;
const blobs = (dir: string): string[] => readdirSync(join(dir, 'blobs', 'sha256')).map((h) => `sha256:${h}`).sort();
const nameOf = (e: Entry) => e.annotations?.['org.opencontainers.image.ref.name'];

function tree(parent: string, name: string, text: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'file'), text);
  return dir;
}

/**
 * gc and the index.json entries other tools leave: what referred to an image `umoci rm` took the
 * name of, and the image `skopeo copy` un-names when it moves a tag to another.
 */
describe('gc and the index.json entries other tools leave', () => {
  it('drops the SBOM referrer and cosign signature of an image umoci rm un-named, and then the image; keeps those of a named image and one whose image was never here', async (t) => {
    requireTool('umoci');
    requireTool('skopeo');
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    const env = { COSIGN_PASSWORD: 'pw' };
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }));
    assertOk(runCli(['build', '--layout', dir, '-t', 'app', '--sbom', '--sign', '--key', join(tmp.path, 'k.key'), '--sign-container-identity', 'registry.example/app', '-q', tree(tmp.path, 'one', 'one\n')], { env }));
    assertOk(runCli(['build', '--layout', dir, '-t', 'keep', '--sbom', '-q', tree(tmp.path, 'two', 'two\n')]));
    // A referrer copied without its image (a signature copied by digest): the layout never held its subject.
    const layout = await OciLayout.open(dir);
    const elsewhere = { mediaType: MediaType.OciManifest, digest: sha256(Buffer.from('an image elsewhere')), size: 18 };
    const alone = await storeLayoutReferrer(layout, elsewhere, 'application/vnd.example.note', [{ mediaType: 'text/plain', bytes: Buffer.from('note') }]);
    await layout.close();
    const app = entries(dir).find((e) => nameOf(e) === 'app')!.digest;
    const keep = entries(dir).find((e) => nameOf(e) === 'keep')!.digest;
    const sbomOfApp = entries(dir).find((e) => e.artifactType === 'application/spdx+json' && JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', e.digest.slice(7)), 'utf8')).subject.digest === app)!;
    const sigOfApp = entries(dir).find((e) => nameOf(e) === `${app.replace(':', '-')}.sig`)!;
    assert.ok(sbomOfApp && sigOfApp);

    run('umoci', ['rm', '--image', `${dir}:app`]);
    const index = readFileSync(join(dir, 'index.json'));
    const before = blobs(dir);

    const dry = runCli(['gc', '--layout', dir, '--no-cache', '--dry-run', '--json']);
    assertOk(dry);
    const planned = JSON.parse(dry.stdout) as GcJson;
    assert.deepEqual(validate('gc.schema.json', planned), []);
    assert.deepEqual(planned.dropped.map((d) => [d.digest, d.reason, d.subject]).sort(), [[sbomOfApp.digest, 'orphaned', app], [sigOfApp.digest, 'orphaned', app]].sort());
    assert.ok(planned.removed.some((b) => b.digest === app), 'the un-named image would go with them');
    assert.deepEqual(readFileSync(join(dir, 'index.json')), index, '--dry-run writes nothing');
    assert.deepEqual(blobs(dir), before);

    const r = runCli(['gc', '--layout', dir, '--no-cache']);
    assertOk(r);
    assert.match(r.stdout, /^dropped 2 index\.json entries; removed \d+ blobs/);
    assert.match(r.stderr, new RegExp(`dropped index\\.json entry ${sigOfApp.digest} \\(sha256-[0-9a-f]{64}\\.sig, of ${app}, which no image in index\\.json reaches\\)`));
    const left = entries(dir);
    assert.deepEqual(left.map((e) => e.digest).sort(), [keep, alone.digest, entries(dir).find((e) => e.artifactType === 'application/spdx+json')!.digest].sort());
    assert.ok(!blobs(dir).includes(app));
    assert.deepEqual(planned.removed.map((b) => b.digest), before.filter((d) => !blobs(dir).includes(d)), 'the dry run listed what went');
    // What the real tools read of it.
    assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'keep');
    assert.equal((JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${dir}:keep`])) as { layers: unknown[] }).layers.length, 1);
    const referrers = runCli(['referrers', `oci:${dir}:keep`, '--json']);
    assertOk(referrers);
    assert.match(referrers.stdout, /application\/spdx\+json/);
    const again = JSON.parse(runCli(['gc', '--layout', dir, '--json']).stdout) as GcJson;
    assert.deepEqual([again.dropped, again.removed], [[], []]);
  });

  it('--untagged drops the image skopeo copy left un-named when it moved the tag to another, and its blobs; without it that image stays, as umoci gc keeps it', async (t) => {
    requireTool('skopeo');
    requireTool('umoci');
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    for (const [name, text] of [['one', 'yesterday\n'], ['two', 'today\n']] as const) {
      assertOk(runCli(['build', '--layout', join(tmp.path, name), '-t', name, '-q', tree(tmp.path, `${name}-root`, text)]));
      run('skopeo', ['copy', '-q', `oci:${join(tmp.path, name)}:${name}`, `oci:${dir}:app`]);
    }
    const [old, today] = entries(dir);
    assert.equal(nameOf(old!), undefined, 'skopeo keeps the old image as an entry without a name');
    assert.equal(nameOf(today!), 'app');
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', old!.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    const oldBlobs = [old!.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)].sort();

    const plain = JSON.parse(runCli(['gc', '--layout', dir, '--json']).stdout) as GcJson;
    assert.deepEqual([plain.dropped, plain.removed], [[], []], 'without --untagged an unnamed entry is an image');

    const index = readFileSync(join(dir, 'index.json'));
    const dry = runCli(['gc', '--layout', dir, '--untagged', '--dry-run', '--json']);
    assertOk(dry);
    const planned = JSON.parse(dry.stdout) as GcJson;
    assert.deepEqual(validate('gc.schema.json', planned), []);
    assert.deepEqual(planned.dropped, [{ digest: old!.digest, reason: 'untagged' }]);
    assert.deepEqual(planned.removed.map((b) => b.digest), oldBlobs);
    assert.deepEqual(readFileSync(join(dir, 'index.json')), index, '--dry-run writes nothing');

    const r = runCli(['gc', '--layout', dir, '--untagged']);
    assertOk(r);
    assert.match(r.stdout, /^dropped 1 index\.json entry; removed 3 blobs .*, kept 3\n$/);
    assert.match(r.stderr, new RegExp(`dropped index\\.json entry ${old!.digest} \\(an image without a name\\)`));
    assert.deepEqual(entries(dir), [today]);
    assert.equal(blobs(dir).length, 3);
    assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'app');
    validateLayout(dir);
    run('skopeo', ['copy', '-q', `oci:${dir}:app`, `oci:${join(tmp.path, 'out')}:app`]);
  });

  it('--untagged keeps the unnamed image of a layout cosign save wrote, which its kind annotation names', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    assertOk(runCli(['build', '--layout', dir, '-t', 'app', '-q', tree(tmp.path, 'root', 'saved\n')]));
    // cosign save's index.json: its image unnamed, marked by kind (cosign's pkg/oci/layout).
    const [image] = entries(dir);
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: MediaType.OciManifest, digest: image!.digest, size: (image as { size?: number }).size, annotations: { kind: 'dev.cosignproject.cosign/image' } }] }));
    const before = blobs(dir);
    const r = runCli(['gc', '--layout', dir, '--untagged', '--no-cache', '--json']);
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as GcJson).dropped, []);
    assert.deepEqual(blobs(dir), before);
  });
});
