import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { goBuild, testDebs, validator } from '../support/sbom.js';
import { buildGoWithModules, MAKE_JARS, READ_POMS, TO_DB_LOAD } from '../support/sbom-fixtures.js';

/**
 * The package URLs an SBOM writes, compared case by case with what syft writes for the same
 * package and what the purl spec says (where the two agree): grype, trivy and Dependency-Track
 * match vulnerabilities on them.
 */

const schemas = validator();

interface Listed { name: string; version: string; purl: string; cpe?: string }

/** Builds `root` into a layout and returns the packages of its SBOM, in both formats (each valid against its schema). */
function packagesOf(root: string, layout: string): Listed[] {
  assert.equal(runCli(['build', root, '--layout', layout, '--tag', 't', '--quiet']).status, 0);
  const spdx = runCli(['sbom', `oci:${layout}:t`]);
  assert.equal(spdx.status, 0, spdx.stderr);
  const doc = JSON.parse(spdx.stdout);
  schemas.spdx(doc);
  const fromSpdx: Listed[] = doc.packages.filter((p: { SPDXID: string }) => p.SPDXID !== 'SPDXRef-Image')
    .map((p: { name: string; versionInfo: string; externalRefs: { referenceCategory: string; referenceType: string; referenceLocator: string }[] }) => {
      const purls = p.externalRefs.filter((r) => r.referenceCategory === 'PACKAGE-MANAGER' && r.referenceType === 'purl');
      const cpes = p.externalRefs.filter((r) => r.referenceCategory === 'SECURITY' && r.referenceType === 'cpe23Type');
      assert.equal(purls.length, 1);
      assert.equal(purls.length + cpes.length, p.externalRefs.length);
      return { name: p.name, version: p.versionInfo, purl: purls[0]!.referenceLocator, ...(cpes[0] ? { cpe: cpes[0].referenceLocator } : {}) };
    });
  const cdx = runCli(['sbom', `oci:${layout}:t`, '--sbom-format', 'cyclonedx']);
  assert.equal(cdx.status, 0, cdx.stderr);
  const bom = JSON.parse(cdx.stdout);
  schemas.cyclonedx(bom);
  const fromCdx = bom.components.filter((c: { type: string }) => c.type === 'library').map((c: { name: string; version: string; purl: string; cpe?: string }) => ({ name: c.name, version: c.version, purl: c.purl, ...(c.cpe ? { cpe: c.cpe } : {}) }));
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

  it('Go: the standard library as syft lists it (with NVD\'s CPE for Go), replaced modules under their replacement (a directory: the module\'s own path, no version), +incompatible encoded', () => {
    const root = join(tmp.path, 'go');
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    buildGoWithModules(join(root, 'usr/local/bin/app'), join(tmp.path, 'go-src'));
    const said = run('go', ['version', '-m', join(root, 'usr/local/bin/app')]);
    const goVersion = /^\S+: go(\S+)/.exec(said)![1]!;
    assert.match(said, /^\tdep\texample\.com\/orig\tv1\.0\.0\n\t=>\texample\.com\/fork\tv1\.1\.0\t/m);
    assert.match(said, /^\tdep\texample\.com\/local\tv0\.0\.0\n\t=>\t\.\.\/local\t/m);
    const listed = packagesOf(root, join(tmp.path, 'go-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]), [
      ['example.com/app', '(devel)', 'pkg:golang/example.com/app'],
      ['example.com/fork', 'v1.1.0', 'pkg:golang/example.com/fork@v1.1.0'],
      ['example.com/inc', 'v2.0.0+incompatible', 'pkg:golang/example.com/inc@v2.0.0%2Bincompatible'],
      ['example.com/lib', 'v1.0.0', 'pkg:golang/example.com/lib@v1.0.0'],
      ['example.com/local', '(devel)', 'pkg:golang/example.com/local'],
      ['stdlib', `go${goVersion}`, `pkg:golang/stdlib@${goVersion}`],
    ]);
    assert.match(goVersion, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(listed.filter((p) => p.cpe).map((p) => [p.name, p.cpe]), [['stdlib', `cpe:2.3:a:golang:go:${goVersion}:-:*:*:*:*:*:*`]]);
  });

  it('Go: a binary that embeds another Go binary (go:embed, as a string in .rodata and as bytes in .noptrdata) is listed by its own build info, as go version -m reads it', () => {
    const root = join(tmp.path, 'go-embed');
    const src = join(tmp.path, 'go-embed-src');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(src, 'inner'), { recursive: true });
    writeFileSync(join(src, 'inner/go.mod'), 'module example.com/inner\n\ngo 1.19\n');
    writeFileSync(join(src, 'inner/main.go'), 'package main\n\nfunc main() {}\n');
    goBuild(join(src, 'inner'), join(src, 'outer/inner.bin'), tmp.path, { GOPROXY: 'off' });
    writeFileSync(join(src, 'outer/go.mod'), 'module example.com/outer\n\ngo 1.19\n');
    for (const [name, type] of [['as-string', 'string'], ['as-bytes', '[]byte']]) {
      writeFileSync(join(src, 'outer/main.go'), `package main\n\nimport _ "embed"\n\n//go:embed inner.bin\nvar inner ${type}\n\nfunc main() { println(len(inner)) }\n`);
      goBuild(join(src, 'outer'), join(root, 'bin', name), tmp.path, { GOPROXY: 'off' });
    }
    for (const name of ['as-string', 'as-bytes']) assert.match(run('go', ['version', '-m', join(root, 'bin', name)]), /^\tmod\texample\.com\/outer\t/m);
    const listed = packagesOf(root, join(tmp.path, 'go-embed-layout'));
    assert.deepEqual(listed.filter((p) => p.name !== 'stdlib').map((p) => [p.name, p.purl]), [['example.com/outer', 'pkg:golang/example.com/outer'], ['example.com/outer', 'pkg:golang/example.com/outer']]);
  });

  it('npm: a package-lock.json\'s dev dependencies are left out, as npm ls --omit=dev reads the same lockfile; a scoped name\'s @ encoded', () => {
    requireTool('npm');
    const root = join(tmp.path, 'npm');
    mkdirSync(join(root, 'app'), { recursive: true });
    copyFileSync(join(REPO_ROOT, 'test/fixtures/syft/package-lock-3.json'), join(root, 'app/package-lock.json'));
    writeFileSync(join(root, 'app/package.json'), JSON.stringify({ name: 'lock-v3-fixture', version: '1.0.0', dependencies: { '@types/react': '^18.0.9' }, devDependencies: { async: '^3.2.4' } }));
    const tree = JSON.parse(run('npm', ['ls', '--all', '--omit=dev', '--package-lock-only', '--offline', '--json'], { cwd: join(root, 'app') }));
    const npmSays = new Map<string, string>();
    const walk = (deps: Record<string, { version: string; dependencies?: Record<string, unknown> }> = {}) => {
      for (const [name, d] of Object.entries(deps)) { npmSays.set(name, d.version); walk(d.dependencies as typeof deps); }
    };
    walk(tree.dependencies);
    assert.ok(npmSays.size >= 4 && !npmSays.has('async'));
    const listed = packagesOf(root, join(tmp.path, 'npm-layout'));
    const purl = (name: string, version: string) => `pkg:npm/${name.startsWith('@') ? `${encodeURIComponent(name.slice(0, name.indexOf('/')))}/${name.slice(name.indexOf('/') + 1)}` : name}@${version}`;
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), [...npmSays].map(([n, v]) => [n, v, purl(n, v)]).sort());
    assert.ok(listed.some((p) => p.purl === 'pkg:npm/%40types/react@18.0.20'));
  });

  it('npm: an aliased dependency (`npm:left-pad@1.3.0` installed as node_modules/lp) by its own name, as npm query lists the installed tree; a fixture inside a package is none', () => {
    requireTool('npm');
    const root = join(tmp.path, 'npm-alias');
    const app = join(root, 'app');
    // node_modules as npm install writes it for these dependencies: an alias's directory is its alias.
    const installed: Record<string, object> = {
      lp: { name: 'left-pad', version: '1.3.0', license: 'WTFPL' },
      '@my/node-types': { name: '@types/node', version: '20.0.0', license: 'MIT' },
      'is-number': { name: 'is-number', version: '7.0.0', license: 'MIT' },
    };
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lp: 'npm:left-pad@1.3.0', '@my/node-types': 'npm:@types/node@20.0.0', 'is-number': '7.0.0' } }));
    for (const [dir, pkg] of Object.entries(installed)) {
      mkdirSync(join(app, 'node_modules', dir), { recursive: true });
      writeFileSync(join(app, 'node_modules', dir, 'package.json'), JSON.stringify(pkg));
    }
    mkdirSync(join(app, 'node_modules/is-number/test/fixture'), { recursive: true });
    writeFileSync(join(app, 'node_modules/is-number/test/fixture/package.json'), JSON.stringify({ name: 'fixture', version: '0.0.1' }));
    const npmSays = (JSON.parse(run('npm', ['query', '*', '--offline'], { cwd: app })) as { name: string; version: string; location: string }[])
      .filter((p) => p.location !== '').map((p) => [p.name, p.version]);
    assert.deepEqual(npmSays.map(([n]) => n).sort(), ['@types/node', 'is-number', 'left-pad']);
    const listed = packagesOf(root, join(tmp.path, 'npm-alias-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version]).sort(), npmSays.sort());
    assert.deepEqual(listed.map((p) => p.purl).sort(), ['pkg:npm/%40types/node@20.0.0', 'pkg:npm/is-number@7.0.0', 'pkg:npm/left-pad@1.3.0']);
  });

  it('npm: beside an installed node_modules, what the lock names but is not there (another platform\'s optional binaries) is none, as npm query lists the tree', () => {
    requireTool('npm');
    const app = join(tmp.path, 'npm-optional', 'app');
    // What `npm install esbuild@0.19.12` writes on linux-x64: the lock names every platform's
    // binary package (optional, each with its os and cpu); only this platform's is installed.
    const platforms = [['linux', 'x64'], ['darwin', 'arm64'], ['win32', 'x64']];
    const lock = {
      name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: {
        '': { name: 'app', version: '1.0.0', dependencies: { esbuild: '0.19.12' } },
        ...Object.fromEntries(platforms.map(([os, cpu]) => [`node_modules/@esbuild/${os}-${cpu}`, { version: '0.19.12', cpu: [cpu], optional: true, os: [os] }])),
        'node_modules/esbuild': { version: '0.19.12', hasInstallScript: true, bin: { esbuild: 'bin/esbuild' }, optionalDependencies: Object.fromEntries(platforms.map(([os, cpu]) => [`@esbuild/${os}-${cpu}`, '0.19.12'])) },
      },
    };
    mkdirSync(join(app, 'node_modules/@esbuild/linux-x64'), { recursive: true });
    mkdirSync(join(app, 'node_modules/esbuild'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { esbuild: '0.19.12' } }));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock));
    writeFileSync(join(app, 'node_modules/esbuild/package.json'), JSON.stringify({ name: 'esbuild', version: '0.19.12', license: 'MIT' }));
    writeFileSync(join(app, 'node_modules/@esbuild/linux-x64/package.json'), JSON.stringify({ name: '@esbuild/linux-x64', version: '0.19.12', license: 'MIT', os: ['linux'], cpu: ['x64'] }));
    const npmSays = (JSON.parse(run('npm', ['query', '*', '--offline'], { cwd: app })) as { name: string; version: string; location: string }[])
      .filter((p) => p.location !== '').map((p) => [p.name, p.version]);
    assert.deepEqual(npmSays.sort(), [['@esbuild/linux-x64', '0.19.12'], ['esbuild', '0.19.12']]);
    const listed = packagesOf(join(tmp.path, 'npm-optional'), join(tmp.path, 'npm-optional-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version]).sort(), npmSays);
  });

  it('npm: a lockfile of npm 5 and 6 (lockfileVersion 1, nested dependencies, an alias) as npm query reads the same lock, dev dependencies left out', () => {
    requireTool('npm');
    const app = join(tmp.path, 'npm-lock-v1', 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { debug: '2.6.9', lp: 'npm:left-pad@1.3.0', '@my/types': 'npm:@types/node@20.0.0' }, devDependencies: { 'is-number': '7.0.0' } }));
    const tgz = (name: string, version: string) => ({ resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${version}.tgz` });
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify({
      name: 'app', version: '1.0.0', lockfileVersion: 1, requires: true,
      dependencies: {
        '@my/types': { version: 'npm:@types/node@20.0.0', ...tgz('@types/node', '20.0.0') },
        debug: { version: '2.6.9', ...tgz('debug', '2.6.9'), requires: { ms: '2.0.0' }, dependencies: { ms: { version: '2.0.0', ...tgz('ms', '2.0.0') } } },
        'is-number': { version: '7.0.0', ...tgz('is-number', '7.0.0'), dev: true },
        lp: { version: 'npm:left-pad@1.3.0', ...tgz('left-pad', '1.3.0') },
      },
    }, null, 2));
    const npmSays = (JSON.parse(run('npm', ['query', '*', '--package-lock-only', '--offline'], { cwd: app })) as { name: string; version: string; location: string; dev: boolean }[])
      .filter((p) => p.location !== '' && !p.dev).map((p) => [p.name, p.version]).sort();
    assert.deepEqual(npmSays.map(([n]) => n), ['@types/node', 'debug', 'left-pad', 'ms']);
    const listed = packagesOf(join(tmp.path, 'npm-lock-v1'), join(tmp.path, 'npm-lock-v1-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version]).sort(), npmSays);
    assert.ok(listed.some((p) => p.purl === 'pkg:npm/%40types/node@20.0.0'));
  });

  it('Debian: every package whose files are on disk (unpacked, half-configured too), none that is removed (config-files, not-installed), as dpkg-query reads the states', () => {
    const root = join(tmp.path, 'deb-states');
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    // Entries of this machine's own dpkg database, each given another state.
    const states = ['install ok installed', 'install ok unpacked', 'install ok half-configured', 'deinstall ok config-files', 'purge ok not-installed', 'hold ok installed'];
    const names = run('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Abbrev}\n']).split('\n').filter((l) => l.endsWith('\tii ')).map((l) => l.split('\t')[0]!).slice(0, states.length);
    assert.equal(names.length, states.length);
    const status = names.map((name, i) => run('dpkg-query', ['-s', name]).trimEnd().replace(/^Status: .*$/m, `Status: ${states[i]}`).replace(/^Conffiles:\n( .*\n?)*/m, '')).join('\n\n');
    writeFileSync(join(root, 'var/lib/dpkg/status'), `${status}\n`);
    const said = run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${db:Status-Abbrev}\n']).trim().split('\n').map((l) => l.split('\t'));
    const onDisk = said.filter(([, abbrev]) => !'nc'.includes(abbrev![1]!)).map(([name]) => name).sort();
    assert.equal(onDisk.length, 4);
    assert.deepEqual(packagesOf(root, join(tmp.path, 'deb-states-layout')).map((p) => p.name).sort(), onDisk);
  });

  it('Python: wheels\' dist-info and eggs\' egg-info (Debian\'s python3 packages) alike, as importlib.metadata reads the same tree; names PEP 503-normalised in the purl', () => {
    const root = join(tmp.path, 'python');
    const site = join(root, 'usr/lib/python3/dist-packages');
    mkdirSync(site, { recursive: true });
    // The installed distributions of this machine's Debian python3 packages, both kinds.
    const system = '/usr/lib/python3/dist-packages';
    const dirs = readdirSync(system).filter((d) => /\.(dist|egg)-info$/.test(d) && statSync(join(system, d)).isDirectory());
    assert.ok(dirs.some((d) => d.endsWith('.egg-info')) && dirs.some((d) => d.endsWith('.dist-info')), dirs.join(' '));
    for (const d of dirs) cpSync(join(system, d), join(site, d), { recursive: true });
    const said = run('python3', ['-c', 'import sys, importlib.metadata as m\nfor d in m.distributions(path=[sys.argv[1]]): print(d.metadata["Name"] + "\\t" + d.version)', site]).trim().split('\n').map((l) => l.split('\t'));
    assert.equal(said.length, dirs.length);
    const listed = packagesOf(root, join(tmp.path, 'python-layout'));
    const expected = said.map(([name, version]) => [name, version, `pkg:pypi/${encodeURIComponent(name!.toLowerCase().replace(/[-_.]+/g, '-'))}@${encodeURIComponent(version!)}`]);
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), expected.sort());
  });

  it('rpm: every package of rpm\'s database, SQLite or Berkeley DB, as rpm -qa reads it (a table of several pages, headers overflowing theirs); syft\'s version and purl', () => {
    requireTool('rpmbuild');
    requireTool('db5.3_load');
    const work = join(tmp.path, 'rpm-build');
    mkdirSync(work, { recursive: true });
    // An epoch, a licence expression, a source rpm named after another package (subpackages), and
    // one package of 600 files, whose header (90 KB) is larger than SQLite's page; 14 packages in all,
    // so the table is more than one page. Then one without an epoch, of an architecture.
    const subpackages = Array.from({ length: 12 }, (_, i) => `%package -n sub${i}-ocipush\nSummary: s\n%description -n sub${i}-ocipush\nd\n%files -n sub${i}-ocipush\n/usr/share/sub${i}/f\n`).join('');
    writeFileSync(join(work, 'a.spec'), `Name: hello-ocipush\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: s\nLicense: MIT AND (Apache-2.0 OR BSD-3-Clause)\nBuildArch: noarch\n%description\nd\n${subpackages}`
      + '%package -n big-ocipush\nSummary: s\n%description -n big-ocipush\nd\n%files -n big-ocipush\n/usr/share/big\n%install\n'
      + 'for i in $(seq 0 11); do mkdir -p %{buildroot}/usr/share/sub$i; echo $i > %{buildroot}/usr/share/sub$i/f; done\n'
      + 'mkdir -p %{buildroot}/usr/share/big %{buildroot}/usr/share/hello\nfor i in $(seq 1 600); do echo $i > %{buildroot}/usr/share/big/file-with-a-long-name-$i.txt; done\n'
      + 'echo hi > %{buildroot}/usr/share/hello/hi\n%files\n/usr/share/hello/hi\n');
    writeFileSync(join(work, 'b.spec'), 'Name: plain-ocipush\nVersion: 0.1\nRelease: 1\nSummary: s\nLicense: GPLv2+\n%global debug_package %{nil}\n%description\nd\n%install\nmkdir -p %{buildroot}/usr/share/plain\necho x > %{buildroot}/usr/share/plain/x\n%files\n/usr/share/plain/x\n');
    run('rpmbuild', ['--define', `_topdir ${work}/top`, '-bb', join(work, 'a.spec')]);
    run('rpmbuild', ['--define', `_topdir ${work}/top`, '--target', 'x86_64', '-bb', join(work, 'b.spec')]);
    const rpms = [...readdirSync(join(work, 'top/RPMS/noarch')).map((f) => join(work, 'top/RPMS/noarch', f)), ...readdirSync(join(work, 'top/RPMS/x86_64')).map((f) => join(work, 'top/RPMS/x86_64', f))];
    assert.equal(rpms.length, 15);

    // Where RHEL keeps the database, where Fedora 36+ does, and the Berkeley DB of RHEL 8 and older.
    const cases = [
      { os: 'ID="rhel"\nVERSION_ID="9.4"\n', dbpath: '/var/lib/rpm', namespace: 'redhat', distro: 'rhel-9.4', bdb: false },
      { os: 'ID=fedora\nVERSION_ID=40\n', dbpath: '/usr/lib/sysimage/rpm', namespace: 'fedora', distro: 'fedora-40', bdb: false },
      { os: 'ID="centos"\nVERSION_ID="7"\n', dbpath: '/var/lib/rpm', namespace: 'centos', distro: 'centos-7', bdb: true },
    ];
    for (const { os, dbpath, namespace, distro, bdb } of cases) {
      const root = join(tmp.path, `rpm-${namespace}`);
      mkdirSync(join(root, 'etc'), { recursive: true });
      writeFileSync(join(root, 'etc/os-release'), os);
      run('rpm', ['--root', root, '--dbpath', dbpath, '--initdb']);
      run('rpm', ['--root', root, '--dbpath', dbpath, '-i', '--justdb', '--nodeps', '--nosignature', '--ignorearch', ...rpms]);
      const backend: string[] = [];
      if (bdb) {
        // The same headers in a Berkeley DB hash database, keyed by instance as rpm keeps them
        // (record 0 its counter), made by Berkeley DB's own db_load; rpm's bdb_ro backend reads it back.
        const db = join(root, dbpath);
        run('python3', ['-c', TO_DB_LOAD, join(db, 'rpmdb.sqlite'), join(work, 'dump.txt')]);
        for (const f of readdirSync(db)) rmSync(join(db, f));
        run('db5.3_load', ['-f', join(work, 'dump.txt'), join(db, 'Packages')]);
        backend.push('--define', '_db_backend bdb_ro');
      }
      const said = run('rpm', ['--root', root, '--dbpath', dbpath, ...backend, '-qa', '--qf', '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\n']).trim().split('\n').map((l) => l.split('\t'));
      assert.equal(said.length, 15);
      // syft's rules, applied to what rpm says: EPOCH:VERSION-RELEASE, the epoch a qualifier of the purl.
      const expected = said.map(([name, epoch, version, release, arch, srpm]) => {
        const qualifiers = [`arch=${arch}`, `distro=${distro}`, ...(epoch === '(none)' ? [] : [`epoch=${epoch}`]), `upstream=${srpm}`].join('&');
        return [name, `${epoch === '(none)' ? '' : `${epoch}:`}${version}-${release}`, `pkg:rpm/${namespace}/${name}@${version}-${release}?${qualifiers}`];
      });
      const listed = packagesOf(root, join(tmp.path, `rpm-${namespace}-layout`));
      assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), expected.sort());
      assert.ok(listed.some((p) => p.purl === `pkg:rpm/${namespace}/big-ocipush@1.2.3-4.el9?arch=noarch&distro=${distro}&epoch=2&upstream=hello-ocipush-1.2.3-4.el9.src.rpm`));
    }
  });

  it('Java: the Maven artifacts of every jar and war, and of the archives they hold (stored or deflated), as Python\'s zipfile reads them; none for a jar without Maven\'s metadata', () => {
    const root = join(tmp.path, 'java');
    mkdirSync(join(root, 'app/lib'), { recursive: true });
    run('python3', ['-c', MAKE_JARS, root]);
    const said = run('python3', ['-c', READ_POMS, root]).trim().split('\n').map((l) => l.split('\t'));
    assert.equal(said.length, 6, said.join(' '));
    const listed = packagesOf(root, join(tmp.path, 'java-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), said.map(([g, a, v]) => [a, v, `pkg:maven/${g}/${a}@${v}`]).sort());
  });

  it('Ruby: every installed gem\'s specification (bundler\'s, Ruby\'s own default gems, Debian\'s), as Ruby\'s Gem::Specification.load reads the same files', () => {
    requireTool('gem');
    const root = join(tmp.path, 'ruby');
    const src = join(tmp.path, 'gem-src');
    mkdirSync(join(src, 'lib'), { recursive: true });
    writeFileSync(join(src, 'lib/hello.rb'), 'puts 1\n');
    writeFileSync(join(src, 'hello-ocipush.gemspec'), 'Gem::Specification.new do |s|\n  s.name = "hello-ocipush"\n  s.version = "1.2.3.pre1"\n  s.summary = "t"\n  s.authors = ["A"]\n  s.licenses = ["MIT", "Apache-2.0"]\n  s.files = ["lib/hello.rb"]\nend\n');
    run('gem', ['build', 'hello-ocipush.gemspec'], { cwd: src });
    run('gem', ['install', '--local', '--no-document', '--install-dir', join(root, 'usr/local/bundle'), join(src, 'hello-ocipush-1.2.3.pre1.gem')]);
    // This machine's Ruby: its default and bundled gems, and the gems of Debian's ruby packages.
    const rubyGems = readdirSync('/usr/lib/ruby/gems').map((v) => join('/usr/lib/ruby/gems', v, 'specifications'));
    for (const dir of [...rubyGems, '/usr/share/rubygems-integration/all/specifications']) cpSync(dir, join(root, dir.slice(1)), { recursive: true });
    const load = 'Dir[File.join(ARGV[0], "**/specifications/**/*.gemspec")].each { |f| s = Gem::Specification.load(f); puts [s.name, s.version, s.licenses.join(", ")].join("\\t") }';
    const said = run('ruby', ['-e', load, root]).trim().split('\n').map((l) => l.split('\t'));
    assert.ok(said.length > 40 && said.some(([n]) => n === 'hello-ocipush'), said.join(' '));
    const listed = packagesOf(root, join(tmp.path, 'ruby-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), said.map(([n, v]) => [n, v, `pkg:gem/${n}@${v}`]).sort());
    assert.ok(listed.some((p) => p.purl === 'pkg:gem/hello-ocipush@1.2.3.pre1'));
  });

  it('PHP: every package Composer installed (a dev-only one too, as it is on disk), as composer show reads the same vendor directory', () => {
    requireTool('composer');
    const work = join(tmp.path, 'php');
    const env = { ...process.env, COMPOSER_HOME: join(work, 'home'), COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_NO_INTERACTION: '1' };
    // Three packages in path repositories (offline): one the app requires, one that requires, one for development only.
    const pkg = (dir: string, json: object) => { mkdirSync(join(work, 'pkgs', dir), { recursive: true }); writeFileSync(join(work, 'pkgs', dir, 'composer.json'), JSON.stringify(json)); };
    pkg('a', { name: 'acme/alpha', version: '1.2.3', license: 'MIT', require: { 'acme/beta': '*' } });
    pkg('b', { name: 'acme/beta', version: 'v2.0.0-beta.1', license: ['Apache-2.0', 'GPL-2.0-or-later'] });
    pkg('c', { name: 'acme/gamma-dev', version: '0.1.0' });
    const root = join(work, 'root');
    const app = join(root, 'var/www/app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'composer.json'), JSON.stringify({
      name: 'acme/app', 'minimum-stability': 'dev', require: { 'acme/alpha': '*' }, 'require-dev': { 'acme/gamma-dev': '*' },
      repositories: [{ 'packagist.org': false }, { type: 'path', url: join(work, 'pkgs/*'), options: { symlink: false } }],
    }));
    run('composer', ['install', '--no-progress'], { cwd: app, env });
    const shown = JSON.parse(run('composer', ['show', '--format=json'], { cwd: app, env })) as { installed: { name: string; version: string }[] };
    assert.equal(shown.installed.length, 3);
    const listed = packagesOf(root, join(tmp.path, 'php-layout'));
    assert.deepEqual(listed.map((p) => [p.name, p.version, p.purl]).sort(), shown.installed.map(({ name, version }) => [name, version, `pkg:composer/${name}@${version}`]).sort());
  });

  it('Debian testing or sid (an os-release without VERSION_ID): distro is the ID alone, as syft writes it', () => {
    const root = join(tmp.path, 'sid');
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    // debian:sid's os-release, and its etc/os-release symlink.
    writeFileSync(join(root, 'usr/lib/os-release'), 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=forky\nID=debian\nHOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"\n');
    symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
    const attr = testDebs().find((d) => /\/attr_/.test(d))!;
    writeFileSync(join(root, 'var/lib/dpkg/status'), `${run('dpkg-deb', ['-f', attr]).trimEnd().replace(/^(Package: .*)$/m, '$1\nStatus: install ok installed')}\n`);
    assert.deepEqual(packagesOf(root, join(tmp.path, 'sid-layout')).map((p) => p.purl), ['pkg:deb/debian/attr@1%3A2.5.1-4?arch=amd64&distro=debian']);
  });
});
