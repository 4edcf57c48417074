import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit } from '../support/exit-cleanup.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk } from './registry-support.js';

interface GcJson { leftovers: string[]; leftoverBytes: number }

/**
 * What another tool killed mid-blob leaves in a layout, which gc clears as it does ocipush's own
 * leftovers: the partial blob skopeo (containers/image) writes at the layout's root.
 */
describe('gc and what other tools killed mid-blob leave', () => {
  it('clears the partial blob of a skopeo copy killed (SIGKILL) while writing it, once an hour old, and names it with --dry-run; a fresh one stays', async (t) => {
    requireTool('skopeo');
    requireTool('umoci');
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const root = join(tmp.path, 'root');
    mkdirSync(root);
    writeFileSync(join(root, 'file'), 'a layer skopeo copies slowly\n');
    const dir = join(tmp.path, 'layout');
    assertOk(runCli(['build', '--layout', dir, '-t', 'base', '-q', root]));
    // The source: a `dir:` image whose layer is a FIFO this test feeds, so skopeo is in the middle
    // of writing that blob for as long as the test wants (the layout built above lacks it).
    const other = join(tmp.path, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'file'), 'another layer\n');
    const otherLayout = join(tmp.path, 'other-layout');
    assertOk(runCli(['build', '--layout', otherLayout, '-t', 'other', '-q', other]));
    const source = join(tmp.path, 'source');
    run('skopeo', ['copy', '-q', `oci:${otherLayout}:other`, `dir:${source}`]);
    const layer = join(source, (JSON.parse(readFileSync(join(source, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] }).layers[0]!.digest.slice(7));
    const layerBytes = readFileSync(layer);
    renameSync(layer, `${layer}.real`);
    run('mkfifo', [layer]);

    const skopeo = spawn('skopeo', ['copy', '-q', `dir:${source}`, `oci:${dir}:other`], { stdio: 'ignore' });
    const forget = killOnExit(skopeo);
    t.after(() => { skopeo.kill('SIGKILL'); forget(); });
    const feed = createWriteStream(layer);
    t.after(() => feed.destroy());
    feed.write(layerBytes.subarray(0, 20));
    const partial = (): string | undefined => readdirSync(dir).find((n) => n.startsWith('oci-put-blob'));
    let name: string | undefined;
    while ((name = partial()) === undefined || statSync(join(dir, name)).size === 0) {
      assert.equal(skopeo.exitCode, null, 'skopeo ended before it wrote the blob');
      await sleep(20);
    }
    const exited = new Promise((resolve) => skopeo.once('exit', resolve));
    skopeo.kill('SIGKILL');
    await exited;
    feed.destroy();
    const leftover = join(dir, name);
    const size = statSync(leftover).size;

    const fresh = JSON.parse(runCli(['gc', '--layout', dir, '--dry-run', '--json']).stdout) as GcJson;
    assert.deepEqual(fresh.leftovers, [], 'a file written within the hour may be a live writer\'s');
    assertOk(runCli(['gc', '--layout', dir]));
    assert.ok(readdirSync(dir).includes(name));

    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(leftover, hoursAgo, hoursAgo);
    const dry = JSON.parse(runCli(['gc', '--layout', dir, '--dry-run', '--json']).stdout) as GcJson;
    assert.deepEqual([dry.leftovers, dry.leftoverBytes], [[leftover], size]);
    const r = runCli(['gc', '--layout', dir]);
    assertOk(r);
    assert.match(r.stderr, new RegExp(`cleared ${leftover.replace(/[/.]/g, '\\$&')} \\(left by a killed process\\)`));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('oci-put-blob')), []);

    // The layout is whole: the copy, run again, finishes, and umoci reads both images.
    renameSync(`${layer}.real`, layer);
    run('skopeo', ['copy', '-q', `dir:${source}`, `oci:${dir}:other`]);
    assert.deepEqual(run('umoci', ['ls', '--layout', dir]).trim().split('\n').sort(), ['base', 'other']);
  });
});
