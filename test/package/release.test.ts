import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import ts from 'typescript';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { parsePrivateKey } from '../../src/supply-chain/keys.js';

/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh TypeScript
 * project (strict, nodenext), the README's release script type-checked and run against a real
 * registry that wants credentials, which come from a Docker config as the CLI takes them.
 */

const PASSWORD = 'release-secret';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let project: string;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The README's ts block that starts with `// NAME.ts`. */
function readmeScript(name: string): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = new RegExp(`\`\`\`ts\n(// ${name}\\.ts[^\n]*\n[\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(block, `README shows ${name}.ts`);
  return block[1]!;
}

/** The README's release script: the ts block that starts with `// release.ts`. */
function readmeReleaseScript(): string {
  const script = readmeScript('release');
  const lines = script.trimEnd().split('\n');
  assert.ok(lines.length <= 12, `the release script is about ten lines (it has ${lines.length})`);
  assert.equal(lines.filter((l) => /^import /.test(l)).length, 1, 'one import');
  return script;
}

before(async () => {
  requireTool('skopeo');
  registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
  tmp = await tempDir('ocipush-release-');
  project = join(tmp.path, 'project');
  mkdirSync(join(project, 'app'), { recursive: true });

  const packed = JSON.parse(ok(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.path], REPO_ROOT), 'npm pack')) as [{ filename: string }];
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'release-test', private: true, type: 'module' }, null, 2));
  ok(sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp.path, packed[0].filename)], project), 'npm install of the tarball');
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023'],
      types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
      // The package's own declarations are checked too, as a user's compiler would see them.
      skipLibCheck: false, outDir: 'dist', rootDir: '.',
    },
    include: ['*.ts'],
  }, null, 2));
  writeFileSync(join(project, 'release.ts'), readmeReleaseScript());
  // The build with an SBOM and a signed provenance, its Signer and key opened through the package's exports.
  writeFileSync(join(project, 'provenance.ts'), readmeScript('provenance'));
  // The options shape, strictly typed: every registry option on every call, a typo refused.
  writeFileSync(join(project, 'types.ts'), `
import { build, push, pull, defaultCredentials, isOcipushError, type RegistryOptions, type PushResult } from 'ocipush';
const registryOptions: RegistryOptions = {
  credentials: defaultCredentials({ registry: 'ghcr.io', username: 'me', password: 'x' }),
  plainHttp: false, insecure: false, caFile: ['ca.pem'], concurrency: 2, signal: AbortSignal.timeout(1000),
};
export async function all(): Promise<string> {
  await build({ rootfs: ['./rootfs'], entrypoint: ['/app'], ...registryOptions });
  await build({ context: '.', dockerfile: 'Dockerfile', credentials: false });
  const pushed: PushResult = await push({ to: 'ghcr.io/me/app:1', alsoTag: ['latest'], ...registryOptions });
  await pull({ from: 'ghcr.io/me/app:1', layout: 'pulled', ...registryOptions });
  // @ts-expect-error: not an option
  await push({ to: 'ghcr.io/me/app:1', alsoTags: ['latest'] });
  try { return pushed.digest; } catch (err) { return isOcipushError(err) ? err.code : 'other'; }
}
// What options and results name can be named by the user too.
import type { SbomFormat, ProvenanceOptions, BuiltSbom, BuiltProvenance, StoredImage, LayerProgress, Timeouts, ReferrersMethod, ImageSelector, HeredocSource } from 'ocipush';
export type Named = [SbomFormat, ProvenanceOptions, BuiltSbom, BuiltProvenance, StoredImage, LayerProgress, Timeouts, ReferrersMethod, ImageSelector, HeredocSource];
`);
  writeFileSync(join(project, 'app', 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(project, 'app', 'hello.txt'), 'hello from the release script\n');
  ok(sh(process.execPath, [TSC, '-p', project], project), 'tsc (strict, nodenext) of the release script against the installed package');
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

function releaseEnv(dockerConfig: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, REGISTRY: registry.host, VERSION: '1.0.0', DOCKER_CONFIG: dockerConfig };
  for (const k of ['OCIPUSH_USERNAME', 'OCIPUSH_PASSWORD', 'OCIPUSH_REGISTRY_TOKEN', 'OCIPUSH_LAYOUT']) delete env[k];
  return env;
}

test("the README's release script, from the packed package: builds, pushes as :1.0.0 and :latest with the Docker config's credentials, prints the digest", () => {
  const config = join(tmp.path, 'docker');
  mkdirSync(config, { recursive: true });
  const auth = Buffer.from(`alice:${PASSWORD}`).toString('base64');
  writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));

  const out = ok(sh(process.execPath, ['dist/release.js'], project, releaseEnv(config)), 'the release script');
  const digest = out.trim();
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  for (const tag of ['1.0.0', 'latest']) {
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, `docker://${registry.host}/team/app:${tag}`]);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, digest, `:${tag} is the printed digest`);
  }
  assert.ok(!out.includes(PASSWORD));
});

test("the README's provenance script, from the packed package: cosign's encrypted key opened, the SBOM and the signed provenance pushed along; verify-attestation checks it", async () => {
  const config = join(tmp.path, 'docker-provenance');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
  // A key cosign wrote (encrypted, password "hello"): test/fixtures/cosign/README.md.
  const keyText = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'cosign', 'encrypted-sigstore.key'), 'utf8');
  writeFileSync(join(project, 'cosign.key'), keyText);
  const env = { ...releaseEnv(config), VERSION: 'prov', COSIGN_PASSWORD: 'hello' };
  const out = ok(sh(process.execPath, ['dist/provenance.js'], project, env), 'the provenance script').trim();
  const [digest, ...artifactTypes] = out.split(' ');
  assert.match(digest!, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(artifactTypes.sort(), ['application/spdx+json', 'application/vnd.dsse.envelope.v1+json']);
  const publicKey = join(tmp.path, 'cosign.pub');
  const key = await parsePrivateKey(keyText, 'cosign.key', async () => Buffer.from('hello'));
  writeFileSync(publicKey, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
  const verified = runCli(['verify-attestation', '--key', publicKey, '--type', 'slsaprovenance1', `${registry.host}/team/app:prov`], { env });
  assert.equal(verified.status, 0, verified.stderr);
  assert.equal(verified.stdout.trim().split('\n').pop(), digest);
});

test('through the library, a registry that wants credentials the caller has not given names the option, not a flag', () => {
  const empty = join(tmp.path, 'empty-docker-config');
  mkdirSync(empty, { recursive: true });
  const r = sh(process.execPath, ['dist/release.js'], project, releaseEnv(empty));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /EAUTH/);
  assert.match(r.stderr, /set `credentials`/);
  assert.doesNotMatch(r.stderr, /--username|--password-stdin/);
});

// What the user's compiler reads must resolve in the user's install: a declaration importing a
// package the install lacks types for gives `any` where types were meant, and one naming tar-stream
// (`import tar from 'tar-stream'`, written against @types/tar-stream; tar-stream 3.3 ships its own
// types, without a default export) failed a CommonJS project's compile with TS1192 (module
// commonjs, moduleResolution node10, skipLibCheck false, no esModuleInterop).
test('the published declarations import only Node and dependencies that ship their own types', () => {
  const pkgDir = join(project, 'node_modules', 'ocipush');
  const { dependencies } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const options: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [] };
  // What a user's compiler reads: the declarations reachable from the package's entry.
  const program = ts.createProgram([join(pkgDir, 'dist', 'src', 'index.d.ts')], options);
  const untyped: string[] = [];
  for (const source of program.getSourceFiles().filter((f) => f.fileName.startsWith(`${pkgDir}/dist/`))) {
    for (const { fileName: specifier } of ts.preProcessFile(source.text, true, true).importedFiles) {
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
      const { resolvedModule } = ts.resolveModuleName(specifier, source.fileName, options, ts.sys);
      if (!(name in dependencies) || resolvedModule?.extension !== ts.Extension.Dts) {
        untyped.push(`${source.fileName.slice(pkgDir.length + 1)} imports '${specifier}' (${name in dependencies ? 'no declarations' : 'not a dependency'})`);
      }
    }
  }
  assert.ok(program.getSourceFiles().length > 50, 'the entry reaches the declarations');
  assert.deepEqual(untyped, []);

  // And a CommonJS TypeScript project compiles against the package (Node >= 20.19 require()s it).
  const cjs = join(project, 'cjs');
  mkdirSync(cjs, { recursive: true });
  writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'cjs-test', private: true }));
  writeFileSync(join(cjs, 'main.ts'), `import { build, push, isOcipushError } from 'ocipush';
async function main(): Promise<void> {
  const image = await build({ rootfs: 'app', layout: 'oci-layout', tag: 'app' });
  console.log((await push({ layout: 'oci-layout', tag: image.tag, to: 'localhost:5000/app:1' })).digest);
}
main().catch((err: unknown) => { console.error(isOcipushError(err) ? err.code : err); process.exitCode = 1; });
`);
  writeFileSync(join(cjs, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, module: 'commonjs', moduleResolution: 'node10', target: 'es2022', skipLibCheck: false, noEmit: true,
      types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
    },
    files: ['main.ts'],
  }, null, 2));
  ok(sh(process.execPath, [TSC, '-p', cjs], cjs), 'tsc (CommonJS, node10 resolution, skipLibCheck false) of a script against the installed package');
});

test('every library example of docs/*.md that imports from the package type-checks against the packed package (strict, nodenext); the pure Dockerfile one runs', () => {
  const dir = join(project, 'docs-examples');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const doc of ['push.md', 'base-images.md', 'dockerfile.md']) {
    const text = readFileSync(join(REPO_ROOT, 'docs', doc), 'utf8');
    // A block of declarations (`function parseDockerfile(…): …;`) is a reference, not a script: only those that import.
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^import .* from 'ocipush';$/m.test(b));
    assert.ok(blocks.length > 0, `docs/${doc} shows a library example`);
    blocks.forEach((block, i) => {
      const file = `${doc.replace('.md', '')}-${i}.ts`;
      // Each example is its own module (top-level await, names of its own).
      writeFileSync(join(dir, file), `${block}\nexport {};\n`);
      files.push(file);
    });
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023'],
      types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')], skipLibCheck: false, outDir: 'dist', rootDir: '.',
    },
    files,
  }, null, 2));
  ok(sh(process.execPath, [TSC, '-p', dir], dir), `tsc of the docs' library examples (${files.join(', ')}) against the installed package`);
  ok(sh(process.execPath, [join('dist', 'dockerfile-0.js')], dir), 'the Dockerfile front end example');
});
