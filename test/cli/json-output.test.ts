import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runCli, tempDir, type RunResult } from '../support/tools.js';
import { runCliAsync } from './registry-support.js';
import { skopeoDigest, skopeoRawManifest, skopeoTags } from '../registry/support.js';
import { SCHEMA_DIR, validate } from './json-schema.js';
import { commandEntries } from '../../src/cli/commands.js';

/** The --json document of a run, checked against its schema in docs/json/. */
function checked(schema: string, r: RunResult, status = 0): Record<string, unknown> {
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(validate(schema, doc), [], `${schema}: ${r.stdout}`);
  return doc;
}

/**
 * Every command's --json output against its JSON Schema in docs/json/, run from a working
 * directory with relative paths, so a path printed as given (not absolute) is caught.
 */
describe('--json output matches docs/json/*.schema.json', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let cwd: string;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    cwd = tmp.path;
    for (const name of ['one', 'two']) {
      mkdirSync(join(cwd, name, 'etc'), { recursive: true });
      writeFileSync(join(cwd, name, 'etc', 'hostname'), `${name}\n`);
    }
    writeFileSync(join(cwd, 'Dockerfile'), 'FROM scratch\nCOPY one /\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('the validator is not vacuous: it rejects wrong documents and unknown keywords', () => {
    assert.notDeepEqual(validate('error.schema.json', { error: { code: 'EUSAGE' } }), []);
    assert.notDeepEqual(validate('error.schema.json', { error: { code: 'usage', message: 'x' } }), []);
    assert.notDeepEqual(validate('push.schema.json', { reference: 'x', digest: 'sha256:0', size: 1, mediaType: 'a/b', tags: [], blobs: [] }), []);
    assert.deepEqual(validate('error.schema.json', { error: { code: 'EUSAGE', message: 'x' } }), []);
    // Every schema loads and uses only the subset (a keyword outside it throws).
    for (const file of readdirSync(SCHEMA_DIR)) validate(file, {});
  });

  it('every command has a schema', () => {
    const files = readdirSync(SCHEMA_DIR);
    const missing = commandEntries.map((e) => e.name).filter((name) => !files.includes(`${name}.schema.json`));
    assert.deepEqual(missing, []);
  });

  it('build, build -f, index create, push, pull, inspect, export, completion, gc, the supply-chain commands and errors', () => {
    const build = checked('build.schema.json', runCli(['build', 'one', '--layout', 'layout', '--tag', 'one', '--platform', 'linux/amd64', '--json'], { cwd }));
    assert.equal(build.layout, join(cwd, 'layout'));
    const withSbom = checked('build.schema.json', runCli(['build', 'two', '--layout', 'layout', '--tag', 'two', '--platform', 'linux/arm64', '--sbom', '--json'], { cwd }));
    assert.equal((withSbom.sbom as { format: string }).format, 'spdx');
    const dockerfile = checked('build.schema.json', runCli(['build', '-f', 'Dockerfile', '.', '--layout', 'layout', '--tag', 'df', '--json'], { cwd }));
    assert.equal(typeof dockerfile.stage, 'string');

    const index = checked('index.schema.json', runCli(['index', 'create', 'one', 'two', '--tag', 'multi', '--layout', 'layout', '--json'], { cwd }));
    assert.equal(index.layout, join(cwd, 'layout'));

    const ref = `${registry.host}/json/app`;
    const pushed = checked('push.schema.json', runCli(['push', `${ref}:1`, '--layout', 'layout', '--tag', 'one', '--also-tag', 'latest', '--json'], { cwd }));
    const pushedIndex = checked('push.schema.json', runCli(['push', `docker://${ref}:multi`, '--layout', 'layout', '--tag', 'multi', '--json'], { cwd }));
    // What the documents say, as skopeo reads the registry: not only well formed.
    assert.equal(pushed.digest, skopeoDigest(`${ref}:latest`));
    assert.equal(pushedIndex.digest, skopeoRawManifest(`${ref}:multi`).digest);
    assert.deepEqual(skopeoTags(ref), ['1', 'latest', 'multi']);

    const pull = checked('pull.schema.json', runCli(['pull', `${ref}:1`, '--layout', 'pulled', '--json'], { cwd }));
    assert.equal(pull.layout, join(cwd, 'pulled'), 'absolute, as build writes it');
    checked('pull.schema.json', runCli(['pull', `${ref}:multi`, '--layout', 'pulled', '--platform', 'linux/arm64', '--json'], { cwd }));

    checked('inspect.schema.json', runCli(['inspect', `${ref}:1`, '--json'], { cwd }));
    checked('inspect.schema.json', runCli(['inspect', `${ref}:multi`, '--json'], { cwd }));
    checked('inspect.schema.json', runCli(['inspect', 'oci:layout:one', '--json'], { cwd }));

    const exported = checked('export.schema.json', runCli(['export', 'one', '-o', 'one.tar', '--layout', 'layout', '--json'], { cwd }));
    assert.equal(exported.layout, join(cwd, 'layout'));
    assert.equal(exported.output, join(cwd, 'one.tar'));

    checked('completion.schema.json', runCli(['completion', 'bash', '--json'], { cwd }));
    const gc = checked('gc.schema.json', runCli(['gc', '--layout', 'layout', '--dry-run', '--json'], { cwd }));
    assert.equal(gc.layout, join(cwd, 'layout'));

    // The supply-chain commands, on the pushed image.
    const env = { COSIGN_PASSWORD: 'json-schema-test' };
    const keys = checked('generate-key-pair.schema.json', runCli(['generate-key-pair', '--output-prefix', 'k', '--json'], { cwd, env }));
    assert.deepEqual(keys, { privateKey: join(cwd, 'k.key'), publicKey: join(cwd, 'k.pub') });
    writeFileSync(join(cwd, 'release.txt'), 'release\n');
    const signedBlob = checked('sign-blob.schema.json', runCli(['sign-blob', 'release.txt', '--key', 'k.key', '--bundle', 'release.bundle', '--json'], { cwd, env }));
    assert.equal(signedBlob.bundle, join(cwd, 'release.bundle'));
    const signed = checked('build.schema.json', runCli(['build', 'one', '--layout', 'layout', '--tag', 'prov', '--provenance', '--key', 'k.key', '--json'], { cwd, env }));
    assert.equal((signed.provenance as { predicateType: string }).predicateType, 'https://slsa.dev/provenance/v1');
    checked('sign.schema.json', runCli(['sign', `docker://${ref}:1`, '--key', 'k.key', '--json'], { cwd, env }));
    checked('verify.schema.json', runCli(['verify', `${ref}:1`, '--key', 'k.pub', '--json'], { cwd }));
    writeFileSync(join(cwd, 'notes.txt'), 'notes\n');
    checked('attach.schema.json', runCli(['attach', `${ref}:1`, '--artifact-type', 'application/vnd.example.notes', 'notes.txt:text/plain', '--json'], { cwd }));
    writeFileSync(join(cwd, 'predicate.json'), JSON.stringify({ note: 'built by the schema test' }));
    checked('attest.schema.json', runCli(['attest', `${ref}:1`, '--key', 'k.key', '--predicate', 'predicate.json', '--json'], { cwd, env }));
    const replacing = checked('attest.schema.json', runCli(['attest', `${ref}:1`, '--key', 'k.key', '--predicate', 'predicate.json', '--replace', '--json'], { cwd, env }));
    assert.deepEqual(replacing.replaced, { att: 1, referrers: 1 });
    checked('verify-attestation.schema.json', runCli(['verify-attestation', `${ref}:1`, '--key', 'k.pub', '--json'], { cwd }));
    const referrers = checked('referrers.schema.json', runCli(['referrers', `${ref}:1`, '--json'], { cwd }));
    assert.equal((referrers.manifests as unknown[]).length, 2, 'the attached notes and the attestation');
    // sbom -o: the file holds the SBOM, stdout says what was written (without -o, stdout is the SBOM).
    const sbom = checked('sbom.schema.json', runCli(['sbom', `${ref}:1`, '-o', 'one.cdx.json', '--sbom-format', 'cyclonedx', '--attach', '--json'], { cwd }));
    assert.equal(sbom.output, join(cwd, 'one.cdx.json'));
    assert.equal((JSON.parse(readFileSync(join(cwd, 'one.cdx.json'), 'utf8')) as { bomFormat: string }).bomFormat, 'CycloneDX');
    const listed = JSON.parse(runCli(['referrers', `${ref}:1`, '--json'], { cwd }).stdout) as { manifests: { digest: string }[] };
    assert.ok(listed.manifests.some((m) => m.digest === sbom.attached), 'the attached digest is the referrer the registry lists');

    checked('error.schema.json', runCli(['push', '--foo', `${ref}:1`, '--json'], { cwd }), 2);
    checked('error.schema.json', runCli(['build', '--compression', 'lz4', '--json'], { cwd }), 2);
    checked('error.schema.json', runCli(['pull', `${ref}:nope`, '--layout', 'pulled', '--json'], { cwd }), 1);
    checked('error.schema.json', runCli(['inspect', 'oci:layout:nope', '--json'], { cwd }), 1);
  });

  it('copy, tag, ls, catalog, digest, manifest, config, blob, delete and cache', async () => {
    // Asynchronous runs: the registry logs through pipes this process must keep reading, or it stalls.
    const ok = (r: RunResult) => assert.equal(r.status, 0, r.stderr);
    ok(await runCliAsync(['build', 'one', '--layout', 'verbs', '--tag', 'amd', '--platform', 'linux/amd64'], { cwd }));
    ok(await runCliAsync(['build', 'two', '--layout', 'verbs', '--tag', 'arm', '--platform', 'linux/arm64'], { cwd }));
    ok(await runCliAsync(['index', 'create', 'amd', 'arm', '--tag', 'multi', '--layout', 'verbs'], { cwd }));
    const repo = `${registry.host}/verbs/app`;
    ok(await runCliAsync(['push', `${repo}:1`, '--layout', 'verbs', '--tag', 'amd'], { cwd }));
    ok(await runCliAsync(['push', `${repo}:multi`, '--layout', 'verbs', '--tag', 'multi'], { cwd }));

    const copied = checked('copy.schema.json', await runCliAsync(['copy', `${repo}:multi`, `${registry.host}/verbs/copy:1`, '--json'], { cwd }));
    assert.ok((copied.blobs as { outcome: string }[]).some((b) => b.outcome === 'mounted'), 'within one registry, layers are mounted');
    const same = checked('copy.schema.json', await runCliAsync(['copy', `${repo}:1`, `${repo}:1`, '--json'], { cwd }));
    assert.deepEqual(same.blobs, [], 'the same image: nothing copied');
    const toLayout = checked('copy.schema.json', await runCliAsync(['copy', `docker://${repo}:1`, 'oci:copied:v1', '--json'], { cwd }));
    assert.equal(toLayout.destination, 'oci:copied:v1');
    const mirrored = checked('copy-all-tags.schema.json', await runCliAsync(['copy', '--all-tags', repo, `${registry.host}/verbs/mirror`, '--json'], { cwd }));
    assert.deepEqual((mirrored.images as { tag: string }[]).map((i) => i.tag).sort(), ['1', 'multi']);

    const mutated = checked('mutate.schema.json', await runCliAsync(['mutate', `${repo}:multi`, `${registry.host}/verbs/mutated:1`, '--label', 'rev=1', '--json'], { cwd }));
    assert.equal((mutated.images as unknown[]).length, 2, 'both platforms of the index');
    const tagged = checked('tag.schema.json', await runCliAsync(['tag', `${repo}:1`, '2', 'latest', '--json'], { cwd }));
    assert.deepEqual(tagged.tags, ['2', 'latest']);
    const tags = checked('ls.schema.json', await runCliAsync(['ls', repo, '--json'], { cwd })) as unknown as string[];
    assert.deepEqual([...tags].sort(), ['1', '2', 'latest', 'multi']);
    const repositories = checked('catalog.schema.json', await runCliAsync(['catalog', registry.host, '--json'], { cwd })) as unknown as string[];
    assert.ok(repositories.includes('verbs/app') && repositories.includes('verbs/copy'), repositories.join(' '));

    const digest = checked('digest.schema.json', await runCliAsync(['digest', `${repo}:1`, '--json'], { cwd }));
    checked('digest.schema.json', await runCliAsync(['digest', `${repo}:multi`, '--platform', 'linux/arm64', '--json'], { cwd }));
    assert.equal(checked('digest.schema.json', await runCliAsync(['digest', 'oci:copied:v1', '--json'], { cwd })).digest, digest.digest);

    // manifest and config print the stored bytes, --json or not: the schema is of those documents.
    const manifest = checked('manifest.schema.json', await runCliAsync(['manifest', `${repo}:1`, '--json'], { cwd }));
    const index = checked('manifest.schema.json', await runCliAsync(['manifest', `${repo}:multi`, '--json'], { cwd }));
    assert.equal((index.manifests as unknown[]).length, 2);
    checked('manifest.schema.json', await runCliAsync(['manifest', `${repo}:multi`, '--platform', 'linux/arm64', '--json'], { cwd }));
    checked('config.schema.json', await runCliAsync(['config', `${repo}:1`, '--json'], { cwd }));
    checked('config.schema.json', await runCliAsync(['config', 'oci:copied:v1', '--json'], { cwd }));

    const layer = (manifest.layers as { digest: string }[])[0]!.digest;
    const blob = checked('blob.schema.json', await runCliAsync(['blob', `${repo}@${layer}`, '-o', 'layer.bin', '--json'], { cwd }));
    assert.equal(blob.output, join(cwd, 'layer.bin'));
    checked('error.schema.json', await runCliAsync(['blob', `${repo}@${layer}`, '--json'], { cwd }), 2);

    ok(await runCliAsync(['tag', `${registry.host}/verbs/copy:1`, 'doomed'], { cwd }));
    const untagged = checked('untag.schema.json', await runCliAsync(['untag', `${registry.host}/verbs/copy:doomed`, '--json'], { cwd }));
    assert.equal((untagged.untagged as Array<{ digest: string }>)[0]!.digest, copied.digest);
    const deleted = checked('delete.schema.json', await runCliAsync(['delete', `${registry.host}/verbs/copy:1`, '--json'], { cwd }));
    assert.equal(deleted.digest, copied.digest);

    // The registry layer cache a build writes, listed and (dry run) pruned.
    mkdirSync(join(cwd, 'cached', 'srv'), { recursive: true });
    writeFileSync(join(cwd, 'cached', 'srv', 'data'), 'in the registry cache\n');
    const cacheRepo = `${registry.host}/verbs/cache`;
    ok(await runCliAsync(['build', 'cached', '--layout', 'cached-layout', '--tag', 'c', '--cache-repo', cacheRepo, '--cache-write'], { cwd }));
    const listed = checked('cache.schema.json', await runCliAsync(['cache', 'ls', cacheRepo, '--json'], { cwd }));
    const entries = listed.entries as unknown[];
    assert.equal(entries.length, 1);
    const pruned = checked('cache.schema.json', await runCliAsync(['cache', 'prune', cacheRepo, '--keep', '0', '--dry-run', '--json'], { cwd }));
    assert.deepEqual(pruned.removed, entries);
    assert.equal(pruned.kept, 0);
    assert.equal(pruned.dryRun, true);
  });

  it('login and logout, against a registry with htpasswd; the config path absolute though DOCKER_CONFIG is relative', async () => {
    const password = 'json-Secret-51c3';
    const secured = await startRegistry({ auth: { htpasswd: { users: { alice: password } } } });
    try {
      const env = { DOCKER_CONFIG: 'docker-config', OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined };
      const login = checked('login.schema.json', await runCliAsync(['login', secured.host, '-u', 'alice', '--password-stdin', '--json'], { cwd, env, input: `${password}\n` }));
      assert.equal(login.config, join(cwd, 'docker-config', 'config.json'));
      assert.equal(login.storedIn, login.config);
      assert.equal(checked('logout.schema.json', await runCliAsync(['logout', secured.host, '--json'], { cwd, env })).removed, true);
      assert.equal(checked('logout.schema.json', await runCliAsync(['logout', secured.host, '--json'], { cwd, env })).removed, false);
      checked('error.schema.json', await runCliAsync(['login', secured.host, '-u', 'alice', '--password-stdin', '--json'], { cwd, env, input: 'wrong\n' }), 1);
    } finally {
      await secured.stop();
    }
  });
});
