import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, tempDir, type RunResult } from '../support/tools.js';
import { assertOk, assertOneLineError } from '../cli/registry-support.js';
import { envWith, skopeoRaw } from '../cli/copy-support.js';
import { podman, podmanSavedImage, skopeo } from './support.js';

/**
 * Archives that cannot be read by offset where they are: piped in (`docker-archive:/dev/stdin`,
 * as `podman load` reads stdin) or gzip-compressed (`podman save | gzip`, which skopeo's
 * oci-archive reads). Each is copied once into a temp file that nothing outlives.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let saved: ReturnType<typeof podmanSavedImage>;
let spoolDir: string;

before(async () => {
  tmp = await tempDir('ocipush-spool-');
  registry = await startRegistry();
  saved = podmanSavedImage(join(tmp.path, 'saved'));
  spoolDir = join(tmp.path, 'tmpdir');
  mkdirSync(spoolDir);
});
after(async () => {
  saved?.podman.cleanup();
  await registry?.stop();
  await tmp?.cleanup();
});

/**
 * The CLI with `input` on a pipe as its stdin (as a shell pipes it: Node's own `input` would be a
 * socket), spooling into a temp directory of the test's own.
 */
function cliWithStdin(args: string[], input: Buffer): RunResult {
  const r = spawnSync('sh', ['-c', 'cat | "$0" "$@"', process.execPath, CLI, ...args], {
    input, encoding: 'utf8', env: { ...process.env, ...envWith(), TMPDIR: spoolDir }, maxBuffer: 16 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `file` compressed by `tool` (xz, bzip2, zstd). */
function compressed(tool: string, file: string): Buffer {
  const r = spawnSync(tool, ['-c', file], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
  return r.stdout;
}

function cli(args: string[]): RunResult {
  return cliWithStdin(args, Buffer.alloc(0));
}

describe('archives read from a pipe or compressed', () => {
  it('podman save piped into copy docker-archive:/dev/stdin is the image copied from the file', async () => {
    assertOk(cli(['copy', '-q', `docker-archive:${saved.dockerArchive}`, `${registry.host}/spool/file:1`]));
    const piped = cliWithStdin(['copy', '-q', 'docker-archive:/dev/stdin', `${registry.host}/spool/pipe:1`], readFileSync(saved.dockerArchive));
    assertOk(piped);
    assert.equal((await skopeoRaw(`${registry.host}/spool/pipe:1`)).digest, (await skopeoRaw(`${registry.host}/spool/file:1`)).digest);
    assert.deepEqual(readdirSync(spoolDir), [], 'no temp file left');
  });

  it('a gzip-compressed docker archive, from a file or a pipe, goes to a registry and to an archive podman loads', async () => {
    const gz = join(tmp.path, 'app.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(saved.dockerArchive)));
    assertOk(cli(['copy', '-q', `docker-archive:${gz}:localhost:5000/saved/app:1`, `${registry.host}/spool/gz:1`]));
    assert.equal((await skopeoRaw(`${registry.host}/spool/gz:1`)).digest, (await skopeoRaw(`${registry.host}/spool/file:1`)).digest);

    const out = join(tmp.path, 'from-pipe.tar');
    assertOk(cliWithStdin(['copy', '-q', 'docker-archive:/dev/stdin', `docker-archive:${out}:localhost/spool/loaded:1`], readFileSync(gz)));
    const p = podman(join(tmp.path, 'podman-load'));
    try {
      assert.match(p.run(['load', '-i', out]), /Loaded image: localhost\/spool\/loaded:1/);
    } finally {
      p.cleanup();
    }
    assert.deepEqual(readdirSync(spoolDir), [], 'no temp file left');
  });

  it('a gzip-compressed oci-archive is read as skopeo reads it: the same manifest digest', async () => {
    const gz = join(tmp.path, 'oci.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(saved.ociArchive)));
    const expected = skopeo(['inspect', '--format', '{{.Digest}}', `oci-archive:${gz}`]).trim();
    assertOk(cli(['copy', '-q', `oci-archive:${gz}`, `${registry.host}/spool/oci:1`]));
    assert.equal((await skopeoRaw(`${registry.host}/spool/oci:1`)).digest, expected);
  });

  it('a truncated gzip archive or pipe is one line naming it, and leaves no temp file', () => {
    const cut = gzipSync(readFileSync(saved.dockerArchive)).subarray(0, 100_000);
    const file = join(tmp.path, 'cut.tar.gz');
    writeFileSync(file, cut);
    assertOneLineError(cli(['copy', '-q', `docker-archive:${file}`, `${registry.host}/spool/cut:1`]), /^ocipush: .*cut\.tar\.gz: not a readable gzip-compressed archive \(unexpected end of file\)$/);
    const piped = cliWithStdin(['copy', '-q', 'docker-archive:/dev/stdin', `${registry.host}/spool/cut:1`], readFileSync(saved.dockerArchive).subarray(0, 100_000));
    assertOneLineError(piped, /^ocipush: \/dev\/stdin: not a readable tar archive \(.* runs past the end of the file\)$/);
    assert.deepEqual(readdirSync(spoolDir), [], 'no temp file left');
  });

  it('xz, bzip2 and zstd archives, from a file or a pipe, are read as docker load and skopeo read them; a cut one is one line', async () => {
    const plain = (await skopeoRaw(`${registry.host}/spool/file:1`)).digest;
    const xz = join(tmp.path, 'app.tar.xz');
    writeFileSync(xz, compressed('xz', saved.dockerArchive));
    assertOk(cli(['copy', '-q', `docker-archive:${xz}`, `${registry.host}/spool/xz:1`]));
    assert.equal((await skopeoRaw(`${registry.host}/spool/xz:1`)).digest, plain);
    const zst = join(tmp.path, 'app.tar.zst');
    writeFileSync(zst, compressed('zstd', saved.dockerArchive));
    assertOk(cli(['copy', '-q', `docker-archive:${zst}`, `${registry.host}/spool/zst:1`]));
    assert.equal((await skopeoRaw(`${registry.host}/spool/zst:1`)).digest, plain);
    // A bzip2 oci-archive piped in: the digest skopeo reads from the same archive, uncompressed.
    const expected = skopeo(['inspect', '--format', '{{.Digest}}', `oci-archive:${saved.ociArchive}`]).trim();
    assertOk(cliWithStdin(['copy', '-q', 'oci-archive:/dev/stdin', `${registry.host}/spool/bz:1`], compressed('bzip2', saved.ociArchive)));
    assert.equal((await skopeoRaw(`${registry.host}/spool/bz:1`)).digest, expected);
    const cut = join(tmp.path, 'cut.tar.xz');
    writeFileSync(cut, readFileSync(xz).subarray(0, 4096));
    assertOneLineError(cli(['copy', '-q', `docker-archive:${cut}`, `${registry.host}/spool/cut-xz:1`]), new RegExp(`^ocipush: ${cut}: corrupt xz data \\(.*\\)$`));
    assert.deepEqual(readdirSync(spoolDir), [], 'no temp file left');
  });
});
