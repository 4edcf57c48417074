import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { podmanSavedImage } from './support.js';
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
    assert.throws(() => run('skopeo', ['inspect', `docker-archive:${cut}`]), /loading tar component manifest\.json: unexpected EOF/, 'skopeo refuses it too');
    for (const transport of ['docker-archive', 'oci-archive']) {
      const r = runCli(['copy', `${transport}:${cut}`, `oci:${join(tmp.path, 'out')}:x`]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: ${cut}: not a readable tar archive \\(it ends inside a header, at byte \\d+: truncated\\)\\n$`));
    }
  });
});

describe('tar index: an archive of the other format, or of the directory that holds the archive\'s files', () => {
  it('says which it is, and how to read or make it, in one line, where skopeo only refuses it', () => {
    const { dockerArchive, ociArchive, podman: p } = podmanSavedImage(join(tmp.path, 'saved'));
    try {
      const cases: [string, string, RegExp][] = [];
      cases.push(['docker-archive', ociArchive, new RegExp(`: not a docker archive \\(no manifest\\.json; it is an OCI archive: oci-archive:${ociArchive} reads it\\)$`)]);
      cases.push(['oci-archive', dockerArchive, new RegExp(`: not an OCI archive \\(no oci-layout and index\\.json; it is a docker archive: docker-archive:${dockerArchive} reads it\\)$`)]);
      // tar -cf FILE DIR of an unpacked archive, as often done by hand: the files are under DIR/.
      for (const [transport, archive] of [['docker-archive', dockerArchive], ['oci-archive', ociArchive]] as const) {
        const unpacked = join(tmp.path, `unpacked-${transport}`, 'image');
        mkdirSync(unpacked, { recursive: true });
        run('tar', ['-xf', archive, '-C', unpacked]);
        const nested = join(tmp.path, `nested-${transport}.tar`);
        run('tar', ['-cf', nested, '-C', join(unpacked, '..'), 'image']);
        const wanted = transport === 'docker-archive' ? 'no manifest\\.json; it holds image/manifest\\.json' : 'no oci-layout and index\\.json; it holds image/oci-layout and image/index\\.json';
        cases.push([transport, nested, new RegExp(`\\(${wanted}: it was made of the directory image, not of what is in it \\(tar -C image -cf FILE \\.\\)\\)$`)]);
      }
      for (const [transport, archive, line] of cases) {
        // Refused for the file it lacks, not for any other reason.
        const theirs = transport === 'docker-archive' ? /loading tar component manifest\.json: file does not exist/ : /index\.json: no such file or directory/;
        assert.throws(() => run('skopeo', ['inspect', `${transport}:${archive}`]), theirs, `skopeo refuses ${transport}:${archive} too`);
        const r = runCli(['copy', `${transport}:${archive}`, `oci:${join(tmp.path, 'out')}:x`]);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
        assert.match(r.stderr.trimEnd(), line);
      }
    } finally {
      p.cleanup();
    }
  });
});
