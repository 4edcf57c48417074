import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { buildGoHello, installTestDebs, validator } from '../support/sbom.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

describe('ocipush sbom', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  let registry: RunningRegistry;
  const versions = new Map<string, { version: string; arch: string }>();
  const schemas = validator();

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    // Layer 1: real Debian packages unpacked with dpkg-deb, with their status entries; os-release.
    const base = join(tmp.path, 'base');
    mkdirSync(join(base, 'etc'), { recursive: true });
    for (const p of installTestDebs(base, (deb) => `Description: from ${deb}\n continued line\n`)) versions.set(p.name, { version: p.version, arch: p.arch });
    writeFileSync(join(base, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
    writeFileSync(join(base, 'etc/motd'), 'first layer\n');
    // Layer 2: npm, Python and Alpine metadata, a Go binary, and a file that replaces one below.
    const app = join(tmp.path, 'app');
    for (const d of ['app/node_modules/left-pad', 'app/node_modules/@scope/tool', 'usr/lib/python3/site-packages/Requests-2.31.0.dist-info', 'lib/apk/db', 'usr/local/bin', 'etc']) mkdirSync(join(app, d), { recursive: true });
    writeFileSync(join(app, 'app/node_modules/left-pad/package.json'), JSON.stringify({ name: 'left-pad', version: '1.3.0', license: 'WTFPL' }));
    writeFileSync(join(app, 'app/node_modules/@scope/tool/package.json'), JSON.stringify({ name: '@scope/tool', version: '2.0.0-beta.1' }));
    writeFileSync(join(app, 'usr/lib/python3/site-packages/Requests-2.31.0.dist-info/METADATA'), 'Metadata-Version: 2.1\nName: Requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nlong description\nName: not-this\n');
    writeFileSync(join(app, 'lib/apk/db/installed'), 'C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\n\n');
    writeFileSync(join(app, 'etc/motd'), 'second layer wins\n');
    buildGoHello(join(app, 'usr/local/bin/hello'), tmp.path);
    chmodSync(join(app, 'usr/local/bin/hello'), 0o755);
    copyFileSync(join(app, 'usr/local/bin/hello'), join(app, 'usr/local/bin/hello-copy'));
    layout = join(tmp.path, 'layout');
    const r = runCli(['build', base, app, '--layout', layout, '--tag', 't', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('SPDX 2.3 by default: valid against the official schema, every file with SHA1 and SHA256 as sha256sum reads the unpacked image, packages with versions and purls', () => {
    const r = runCli(['sbom', `oci:${layout}:t`]);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    schemas.spdx(doc);
    assert.equal(doc.spdxVersion, 'SPDX-2.3');

    // Every regular file of the unpacked image (umoci applies the layers), with the checksum sha256sum gives.
    requireTool('umoci');
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:t`, bundle]);
    const listed = run('sh', ['-c', 'cd rootfs && find . -type f -print0 | xargs -0 sha256sum | sort -k2'], { cwd: bundle });
    const expected = Object.fromEntries(listed.trim().split('\n').map((l) => [l.slice(66).replace(/^\.\//, '/'), l.slice(0, 64)]));
    const files = Object.fromEntries(doc.files.map((f: { fileName: string; checksums: { algorithm: string; checksumValue: string }[] }) => [f.fileName, f.checksums]));
    assert.deepEqual(Object.keys(files).sort(), Object.keys(expected).sort());
    for (const [name, sums] of Object.entries(files) as [string, { algorithm: string; checksumValue: string }[]][]) {
      assert.deepEqual(sums.map((s) => s.algorithm), ['SHA1', 'SHA256']);
      assert.equal(sums[1]!.checksumValue, expected[name], name);
      assert.equal(sums[0]!.checksumValue, createHash('sha1').update(readFileSync(join(bundle, 'rootfs', name))).digest('hex'), name);
    }

    const purls = doc.packages.map((p: { externalRefs?: { referenceLocator: string }[] }) => p.externalRefs?.[0]?.referenceLocator);
    const attr = versions.get('attr')!;
    assert.equal(attr.version, '1:2.5.1-4');
    assert.ok(versions.get('amqp-tools')!.version.includes('+'), 'the test package has a + in its version');
    for (const expectedPurl of [
      `pkg:deb/debian/attr@1%3A2.5.1-4?arch=amd64&distro=debian-12`,
      // `+` percent-encoded, as the purl spec and syft write it (`:` as syft writes it).
      `pkg:deb/debian/amqp-tools@${versions.get('amqp-tools')!.version.replaceAll('+', '%2B')}?arch=amd64&distro=debian-12`,
      'pkg:npm/left-pad@1.3.0', 'pkg:npm/%40scope/tool@2.0.0-beta.1', 'pkg:pypi/requests@2.31.0',
      'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64', 'pkg:golang/example.com/hello',
    ]) assert.ok(purls.includes(expectedPurl), `${expectedPurl} in ${purls.join(' ')}`);
    const attrPackage = doc.packages.find((p: { name: string }) => p.name === 'attr');
    assert.equal(attrPackage.versionInfo, '1:2.5.1-4');
    // dpkg-query reads the same status file of the unpacked image, and go version -m the same binary.
    const dpkgSays = run('dpkg-query', [`--admindir=${join(bundle, 'rootfs/var/lib/dpkg')}`, '-W', '-f', '${Package} ${Version}\\n']).trim().split('\n').sort();
    const ours = doc.packages.filter((p: { SPDXID: string }) => p.SPDXID.startsWith('SPDXRef-Package-deb-')).map((p: { name: string; versionInfo: string }) => `${p.name} ${p.versionInfo}`).sort();
    assert.deepEqual(ours, dpkgSays);
    const goSays = run('go', ['version', '-m', join(bundle, 'rootfs/usr/local/bin/hello')]);
    const mod = /^\tmod\t(\S+)\t(\S+)/m.exec(goSays)!;
    const goPackage = doc.packages.find((p: { name: string }) => p.name === mod[1]);
    assert.equal(goPackage?.versionInfo, mod[2]);
    // The Go module is found in both copies of the binary.
    assert.equal(doc.packages.filter((p: { name: string }) => p.name === 'example.com/hello').length, 2);
  });

  it('CycloneDX 1.6 with --sbom-format cyclonedx, valid against the official schema', () => {
    const r = runCli(['sbom', `oci:${layout}:t`, '--sbom-format', 'cyclonedx']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    schemas.cyclonedx(doc);
    assert.equal(doc.specVersion, '1.6');
    const hello = doc.components.find((c: { name: string }) => c.name === '/usr/local/bin/hello');
    assert.equal(hello.hashes[1].alg, 'SHA-256');
    assert.ok(doc.components.some((c: { purl?: string }) => c.purl === 'pkg:pypi/requests@2.31.0'));
  });

  it('takes syft\'s format names, spdx-json and cyclonedx-json, for the same documents', () => {
    for (const [syftName, ours] of [['spdx-json', 'spdx'], ['cyclonedx-json', 'cyclonedx']]) {
      const r = runCli(['sbom', `oci:${layout}:t`, '--sbom-format', syftName!, '--created', '2024-05-01T12:00:00Z']);
      assert.equal(r.status, 0, r.stderr);
      schemas[ours as 'spdx' | 'cyclonedx'](JSON.parse(r.stdout));
      assert.equal(r.stdout, runCli(['sbom', `oci:${layout}:t`, '--sbom-format', ours!, '--created', '2024-05-01T12:00:00Z']).stdout);
    }
  });

  it('is deterministic, and the same from the registry as from the layout (layers streamed, nothing unpacked)', async () => {
    const a = runCli(['sbom', `oci:${layout}:t`, '--created', '2024-05-01T12:00:00Z']);
    const b = runCli(['sbom', `oci:${layout}:t`], { env: { SOURCE_DATE_EPOCH: String(Date.parse('2024-05-01T12:00:00Z') / 1000) } });
    assert.equal(a.stdout, b.stdout);
    assert.equal(JSON.parse(a.stdout).creationInfo.created, '2024-05-01T12:00:00Z');
    const ref = `${registry.host}/sbom/app:1`;
    assert.equal(runCli(['push', ref, '--layout', layout, '--tag', 't', '--quiet']).status, 0);
    const remote = runCli(['sbom', ref, '--attach']);
    assert.equal(remote.status, 0, remote.stderr);
    const strip = (d: { files: unknown; packages: { SPDXID: string }[] }) => ({ files: d.files, packages: d.packages.filter((p) => p.SPDXID !== 'SPDXRef-Image') });
    assert.deepEqual(strip(JSON.parse(remote.stdout)), strip(JSON.parse(a.stdout)));
    const refs = JSON.parse(runCli(['referrers', ref, '--json']).stdout);
    assert.deepEqual(refs.manifests.map((m: { artifactType: string }) => m.artifactType), ['application/spdx+json']);
    // What the registry holds is the document printed, byte for byte (made again for each, never whole in memory).
    const v2 = `http://${registry.host}/v2/sbom/app`;
    const artifact = await (await fetch(`${v2}/manifests/${refs.manifests[0].digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json() as { layers: { digest: string; size: number }[] };
    const stored = Buffer.from(await (await fetch(`${v2}/blobs/${artifact.layers[0]!.digest}`)).arrayBuffer());
    assert.equal(stored.length, artifact.layers[0]!.size);
    assert.ok(stored.equals(Buffer.from(remote.stdout, 'utf8')), 'the attached SBOM is the one printed');
  });

  it('applies whiteouts: a file removed by a later layer is not listed', () => {
    const extra = join(tmp.path, 'extra');
    mkdirSync(extra);
    writeFileSync(join(extra, 'new.txt'), 'new\n');
    const r = runCli(['build', extra, '--base', `oci:${layout}:t`, '--remove', '/etc/motd', '--remove', '/app/node_modules/left-pad', '--layout', layout, '--tag', 'removed', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(runCli(['sbom', `oci:${layout}:removed`]).stdout);
    const names = doc.files.map((f: { fileName: string }) => f.fileName);
    assert.ok(names.includes('/new.txt'));
    assert.ok(!names.includes('/etc/motd'));
    assert.ok(!names.some((n: string) => n.startsWith('/app/node_modules/left-pad/')));
    assert.ok(!doc.packages.some((p: { name: string }) => p.name === 'left-pad'));
    assert.ok(doc.packages.some((p: { name: string }) => p.name === '@scope/tool'));
  });

  /** [name, first licence] of each library in the CycloneDX SBOM of `root` built as it is (validated against the schema). */
  const cyclonedxLicences = (root: string, name: string): string[][] => {
    const built = join(tmp.path, name);
    assert.equal(runCli(['build', root, '--layout', built, '--tag', 't', '--quiet']).status, 0);
    const bom = JSON.parse(runCli(['sbom', `oci:${built}:t`, '--sbom-format', 'cyclonedx']).stdout);
    schemas.cyclonedx(bom);
    return bom.components.filter((c: { type: string }) => c.type === 'library')
      .map((c: { name: string; licenses?: { license: { name: string } }[] }) => [c.name, c.licenses?.[0]?.license.name]).sort();
  };

  it('Python: a licence as importlib.metadata reads it, by License-Expression (metadata 2.4, PEP 639) before the deprecated License', () => {
    const root = join(tmp.path, 'py-licences');
    const site = join(root, 'usr/lib/python3/site-packages');
    const metadata: Record<string, string> = {
      'modern-1.0.dist-info': 'Metadata-Version: 2.4\nName: modern\nVersion: 1.0\nLicense-Expression: MIT OR Apache-2.0\nLicense-File: LICENSE\n\nREADME\n',
      'both-2.0.dist-info': 'Metadata-Version: 2.4\nName: both\nVersion: 2.0\nLicense: the whole BSD text\nLicense-Expression: BSD-3-Clause\n\n',
      'legacy-3.0.dist-info': 'Metadata-Version: 2.1\nName: legacy\nVersion: 3.0\nLicense: BSD\n\n',
    };
    for (const [dir, text] of Object.entries(metadata)) {
      mkdirSync(join(site, dir), { recursive: true });
      writeFileSync(join(site, dir, 'METADATA'), text);
    }
    const said = run('python3', ['-c', 'import sys, importlib.metadata as m\nfor d in m.distributions(path=[sys.argv[1]]): print(d.metadata["Name"] + "\\t" + (d.metadata["License-Expression"] or d.metadata["License"]))', site])
      .trim().split('\n').map((l) => l.split('\t')).sort();
    assert.deepEqual(said.map(([, l]) => l), ['BSD-3-Clause', 'BSD', 'MIT OR Apache-2.0']);
    assert.deepEqual(cyclonedxLicences(root, 'py-licences-layout'), said);
  });

  it('--attach on a layout is refused in one line before a layer is read (a layout missing one, here: the refusal, not the missing layer)', () => {
    const copy = join(tmp.path, 'attach-layout');
    cpSync(layout, copy, { recursive: true });
    const index = JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const image = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 't')!;
    const manifest = JSON.parse(readFileSync(join(copy, 'blobs/sha256', image.digest.slice('sha256:'.length)), 'utf8')) as { layers: { digest: string }[] };
    rmSync(join(copy, 'blobs/sha256', manifest.layers[0]!.digest.slice('sha256:'.length)));
    const r = runCli(['sbom', `oci:${copy}:t`, '--attach']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'ocipush: --attach pushes to a registry: give a registry reference\n');
    assert.equal(r.stdout, '');
  });

  it('npm: a licence in a package.json\'s deprecated forms (an object, a list) and in a lockfile\'s entries, as npm query reads them', () => {
    const root = join(tmp.path, 'npm-licences');
    const installed = join(root, 'installed');
    const packages: Record<string, object> = {
      plain: { name: 'plain', version: '1.0.0', license: 'MIT' },
      object: { name: 'object', version: '1.0.0', license: { type: 'BSD-3-Clause', url: 'https://opensource.org/licenses/BSD-3-Clause' } },
      list: { name: 'list', version: '1.0.0', licenses: [{ type: 'MIT', url: 'https://x/MIT' }, { type: 'Apache-2.0', url: 'https://x/Apache' }] },
    };
    mkdirSync(installed, { recursive: true });
    writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { plain: '1.0.0', object: '1.0.0', list: '1.0.0' } }));
    for (const [dir, pkg] of Object.entries(packages)) {
      mkdirSync(join(installed, 'node_modules', dir), { recursive: true });
      writeFileSync(join(installed, 'node_modules', dir, 'package.json'), JSON.stringify(pkg));
    }
    // A lockfile alone (nothing installed), as npm 9+ writes its entries: with each package's licence.
    const locked = join(root, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'package.json'), JSON.stringify({ name: 'locked', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }));
    writeFileSync(join(locked, 'package-lock.json'), JSON.stringify({ name: 'locked', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'locked', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }, 'node_modules/left-pad': { version: '1.3.0', resolved: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz', license: 'WTFPL' } } }));
    type Queried = { name: string; location: string; license?: string | { type: string }; licenses?: { type: string }[] };
    const query = (cwd: string, lockOnly: boolean) => (JSON.parse(run('npm', ['query', '*', '--offline', ...(lockOnly ? ['--package-lock-only'] : [])], { cwd })) as Queried[]).filter((p) => p.location !== '');
    const licence = (p: Queried) => {
      if (typeof p.license === 'string') return p.license;
      if (p.license) return p.license.type;
      return p.licenses!.length > 1 ? `(${p.licenses!.map((l) => l.type).join(' OR ')})` : p.licenses![0]!.type;
    };
    const said = [...query(installed, false), ...query(locked, true)].map((p) => [p.name, licence(p)]).sort();
    assert.deepEqual(said, [['left-pad', 'WTFPL'], ['list', '(MIT OR Apache-2.0)'], ['object', 'BSD-3-Clause'], ['plain', 'MIT']]);
    assert.deepEqual(cyclonedxLicences(root, 'npm-licences-layout'), said);
  });
});
