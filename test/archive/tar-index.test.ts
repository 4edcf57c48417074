import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';

/** Archives cut short where the tar index reads them: each is one line naming the file. */
let tmp: { path: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await tempDir('ocipush-tar-index-');
});
after(() => tmp?.cleanup());

describe('tar index: a truncated archive', () => {
  it('cut inside a pax header is one line naming the archive and saying it is truncated, as skopeo refuses it', () => {
    // A pax extended header (a long name, as GNU tar and Go's archive/tar write it), then nothing.
    const dir = join(tmp.path, 'content');
    const long = join(dir, 'd'.repeat(120));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(long, 'manifest.json'), '[]');
    const whole = join(tmp.path, 'whole.tar');
    run('tar', ['--format=pax', '-cf', whole, '-C', dir, '.']);
    const cut = join(tmp.path, 'cut.tar');
    const bytes = readFileSync(whole);
    const paxHeader = [...Array(bytes.length / 512).keys()].find((i) => bytes[i * 512 + 156] === 'x'.charCodeAt(0));
    assert.ok(paxHeader !== undefined, 'the archive has a pax header');
    writeFileSync(cut, bytes.subarray(0, (paxHeader + 1) * 512 + 20));

    requireTool('skopeo');
    assert.notEqual(spawnSync('skopeo', ['inspect', `docker-archive:${cut}`]).status, 0, 'skopeo refuses it too');
    for (const transport of ['docker-archive', 'oci-archive']) {
      const r = runCli(['copy', `${transport}:${cut}`, `oci:${join(tmp.path, 'out')}:x`]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: ${cut}: not a readable tar archive \\(it ends inside a header, at byte \\d+: truncated\\)\\n$`));
    }
  });
});
