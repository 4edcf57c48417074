import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, run, runCli, tempDir } from '../support/tools.js';
import { testDebs, validator } from '../support/sbom.js';

/**
 * The package URLs an SBOM writes, compared case by case with what syft writes for the same
 * package and what the purl spec says (where the two agree): grype, trivy and Dependency-Track
 * match vulnerabilities on them.
 */

const schemas = validator();

interface Listed { name: string; version: string; purl: string }

/** Builds `root` into a layout and returns the packages of its SBOM, in both formats (each valid against its schema). */
function packagesOf(root: string, layout: string): Listed[] {
  assert.equal(runCli(['build', root, '--layout', layout, '--tag', 't', '--quiet']).status, 0);
  const spdx = runCli(['sbom', `oci:${layout}:t`]);
  assert.equal(spdx.status, 0, spdx.stderr);
  const doc = JSON.parse(spdx.stdout);
  schemas.spdx(doc);
  const fromSpdx: Listed[] = doc.packages.filter((p: { SPDXID: string }) => p.SPDXID !== 'SPDXRef-Image')
    .map((p: { name: string; versionInfo: string; externalRefs: { referenceCategory: string; referenceType: string; referenceLocator: string }[] }) => {
      assert.deepEqual(p.externalRefs.map((r) => [r.referenceCategory, r.referenceType]), [['PACKAGE-MANAGER', 'purl']]);
      return { name: p.name, version: p.versionInfo, purl: p.externalRefs[0]!.referenceLocator };
    });
  const cdx = runCli(['sbom', `oci:${layout}:t`, '--sbom-format', 'cyclonedx']);
  assert.equal(cdx.status, 0, cdx.stderr);
  const bom = JSON.parse(cdx.stdout);
  schemas.cyclonedx(bom);
  const fromCdx = bom.components.filter((c: { type: string }) => c.type === 'library').map((c: { name: string; version: string; purl: string }) => ({ name: c.name, version: c.version, purl: c.purl }));
  assert.deepEqual(fromCdx, fromSpdx);
  return fromSpdx;
}

describe('SBOM package URLs', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => { tmp = await tempDir(); });
  after(async () => { await tmp?.cleanup(); });

  it('Debian: the source package as syft\'s upstream qualifier (name, and its version when the binary\'s differs), as dpkg-query reads it', () => {
    const root = join(tmp.path, 'deb');
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
    // Status entries as dpkg writes them: the package's whole control, with its Status. The test
    // packages: amqp-tools (Source: librabbitmq), attr (no Source: its own). And an entry of this
    // machine's own dpkg database whose Source names a version (a binNMU or an epoch differs).
    const stanzas = testDebs().map((deb) => {
      const control = run('dpkg-deb', ['-f', deb]).trimEnd();
      return control.replace(/^(Package: .*)$/m, '$1\nStatus: install ok installed');
    });
    const withVersion = run('dpkg-query', ['-W', '-f', '${Package}\t${Source}\t${db:Status-Abbrev}\n']).split('\n')
      .map((l) => l.split('\t')).find(([, source, status]) => /\(.+\)/.test(source ?? '') && status?.startsWith('ii'));
    assert.ok(withVersion, 'an installed package whose Source names a version');
    stanzas.push(run('dpkg-query', ['-s', withVersion[0]!]).trimEnd());
    writeFileSync(join(root, 'var/lib/dpkg/status'), `${stanzas.join('\n\n')}\n`);

    const listed = packagesOf(root, join(tmp.path, 'deb-layout'));
    const said = run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${Version}\t${Architecture}\t${Source}\t${source:Package}\t${source:Version}\n']).trim().split('\n');
    assert.equal(said.length, 3);
    for (const [name, version, arch, sourceField, sourceName, sourceVersion] of said.map((l) => l.split('\t'))) {
      const upstream = sourceField === '' ? undefined : /\(/.test(sourceField!) ? `${sourceName}@${sourceVersion}` : sourceName;
      const purl = `pkg:deb/debian/${name}@${encodeURIComponent(version!)}?arch=${arch}&distro=debian-12${upstream ? `&upstream=${encodeURIComponent(upstream)}` : ''}`;
      assert.deepEqual(listed.filter((p) => p.name === name), [{ name, version, purl }]);
    }
    assert.ok(listed.some((p) => p.purl === `pkg:deb/debian/amqp-tools@${encodeURIComponent(said.find((l) => l.startsWith('amqp-tools\t'))!.split('\t')[1]!)}?arch=amd64&distro=debian-12&upstream=librabbitmq`));
    assert.ok(listed.some((p) => /^pkg:deb\/debian\/attr@1%3A2\.5\.1-4\?arch=amd64&distro=debian-12$/.test(p.purl)));
    assert.ok(listed.some((p) => /&upstream=[^&]+%40[^&]+$/.test(p.purl)), JSON.stringify(listed));
  });

  it('Alpine: the origin package as the upstream qualifier when it has another name, distro from os-release (a symlink to usr/lib/os-release, as Alpine ships it)', () => {
    const root = join(tmp.path, 'apk');
    for (const d of ['lib/apk/db', 'usr/lib', 'etc']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'usr/lib/os-release'), 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.0\nPRETTY_NAME="Alpine Linux v3.19"\nHOME_URL="https://alpinelinux.org/"\n');
    symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
    // An Alpine 3.19 image's lib/apk/db/installed, as syft's tests carry it (its testdata/multiple-1).
    copyFileSync(join(REPO_ROOT, 'test/fixtures/syft/apk-installed-alpine-3.19'), join(root, 'lib/apk/db/installed'));
    const listed = packagesOf(root, join(tmp.path, 'apk-layout'));
    assert.deepEqual(listed.map((p) => p.purl), [
      'pkg:apk/alpine/bash@5.2.21-r0?arch=x86_64&distro=alpine-3.19.0',
      'pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.0&upstream=busybox',
      'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.0',
      'pkg:apk/alpine/readline@8.2.1-r2?arch=x86_64&distro=alpine-3.19.0',
    ]);
  });
});
