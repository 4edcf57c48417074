import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { REPO_ROOT, requireTool, run } from './tools.js';

/** What the SBOM tests share: real Debian packages, and the official SPDX 2.3 / CycloneDX 1.6 schemas. */

const SCHEMAS = join(REPO_ROOT, 'test', 'fixtures', 'sbom-schemas');
/**
 * Two real Debian packages (an epoch and a `+` in their versions), downloaded once by .ci/run
 * into the user's cache (`apt-get download`), or here when a run skipped it.
 */
export function testDebs(): string[] {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ocipush-test-debs');
  mkdirSync(dir, { recursive: true });
  const present = () => readdirSync(dir).filter((f) => /^(attr|amqp-tools)_.*\.deb$/.test(f)).sort();
  if (present().length < 2) run('apt-get', ['download', 'attr', 'amqp-tools'], { cwd: dir });
  return present().map((f) => join(dir, f));
}

/**
 * Unpacks the test packages into `root` with dpkg-deb and writes their `var/lib/dpkg/status`
 * entries, as dpkg would leave them (each entry with `extra` fields, when given). Returns what
 * was installed.
 */
export function installTestDebs(root: string, extra: (deb: string) => string = () => ''): { name: string; version: string; arch: string }[] {
  mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
  const installed: { name: string; version: string; arch: string }[] = [];
  let status = '';
  for (const deb of testDebs()) {
    run('dpkg-deb', ['-x', deb, root]);
    const [name, version, arch] = run('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture']).trim().split('\n').map((l) => l.slice(l.indexOf(':') + 2));
    installed.push({ name: name!, version: version!, arch: arch! });
    status += `Package: ${name}\nStatus: install ok installed\nArchitecture: ${arch}\nVersion: ${version}\n${extra(deb)}\n`;
  }
  writeFileSync(join(root, 'var/lib/dpkg/status'), status);
  return installed;
}

export function validator(): { spdx: (doc: unknown) => void; cyclonedx: (doc: unknown) => void } {
  const schema = (name: string) => JSON.parse(readFileSync(join(SCHEMAS, name), 'utf8'));
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // Formats CycloneDX names that ajv-formats does not define: accepted as strings.
  for (const f of ['iri-reference', 'idn-email']) ajv.addFormat(f, true);
  ajv.addSchema(schema('cyclonedx-spdx.schema.json'));
  ajv.addSchema(schema('cyclonedx-jsf-0.82.schema.json'));
  const spdx = ajv.compile(schema('spdx-2.3.schema.json'));
  const cdx = ajv.compile(schema('cyclonedx-bom-1.6.schema.json'));
  const check = (fn: typeof spdx, what: string) => (doc: unknown) => assert.ok(fn(doc), `${what}: ${JSON.stringify(fn.errors?.slice(0, 5), null, 1)}`);
  return { spdx: check(spdx, 'SPDX 2.3 schema'), cyclonedx: check(cdx, 'CycloneDX 1.6 schema') };
}


/**
 * Builds a small Go program with Debian's toolchain into `output`: a binary whose embedded build
 * info (module example.com/hello) the SBOM must find. Offline and reproducible (-trimpath, no VCS).
 */
export function buildGoHello(output: string, scratch: string): void {
  const src = join(scratch, 'gosrc');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'go.mod'), 'module example.com/hello\n\ngo 1.19\n');
  writeFileSync(join(src, 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n');
  goBuild(src, output, scratch, { GOPROXY: 'off' });
}

/** `go build` of the module in `src` into `output` with Debian's toolchain: offline, reproducible (-trimpath, no VCS, no cgo), caches under `scratch`. */
export function goBuild(src: string, output: string, scratch: string, env: Record<string, string>): void {
  requireTool('go');
  execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-o', output, '.'], {
    cwd: src, stdio: 'pipe',
    env: { ...process.env, GOCACHE: join(scratch, 'gocache'), GOPATH: join(scratch, 'gopath'), CGO_ENABLED: '0', GOTOOLCHAIN: 'local', ...env },
  });
}
