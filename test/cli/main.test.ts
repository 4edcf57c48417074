import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { reportFailure, reportStalled } from '../../src/cli/main.js';
import { Output } from '../../src/cli/output.js';
import { validate } from './json-schema.js';
import { startRegistry } from '../support/registry.js';
import { CLI, run, runCli, tempDir, validateLayout } from '../support/tools.js';

/** A stream standing in for stdout or stderr, keeping what was written. */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * A defect (an error that is no OcipushError) is reported as every failure is: one line on
 * stderr (here with its stack, for the bug report) and, with --json, the error document that
 * docs/json/error.schema.json promises for any exit status but 0.
 */
describe('cli main: a defect still answers in JSON', () => {
  it('reportFailure: a plain Error gives exit 70, the stack on stderr, an EINTERNAL document on stdout', () => {
    const stdout = capture();
    const stderr = capture();
    const err = new TypeError("Cannot read properties of undefined (reading 'digest')\nsecond line");
    const code = reportFailure(err, new Output({ json: true }, stdout.stream, stderr.stream), stderr.stream);
    assert.equal(code, 70);
    assert.match(stderr.text(), /^ocipush: internal error: TypeError: Cannot read properties/);
    const doc = JSON.parse(stdout.text()) as { error: { code: string; message: string } };
    assert.deepEqual(validate('error.schema.json', doc), []);
    assert.deepEqual(doc.error, { code: 'EINTERNAL', message: "internal error: Cannot read properties of undefined (reading 'digest') second line" });
  });

  it('reportFailure without --json: stdout stays empty', () => {
    const stdout = capture();
    const stderr = capture();
    assert.equal(reportFailure(new Error('boom'), new Output({}, stdout.stream, stderr.stream), stderr.stream), 70);
    assert.equal(stdout.text(), '');
    assert.match(stderr.text(), /internal error: Error: boom/);
  });

  it('reportStalled: a command whose work never finished is exit 70 with one line, and the document with --json', () => {
    const stdout = capture();
    const stderr = capture();
    assert.equal(reportStalled(['push', 'r/a:1', '--json'], stdout.stream, stderr.stream), 70);
    assert.equal(stderr.text(), 'ocipush: internal error: the command stopped before it finished (an operation never completed)\n');
    const doc = JSON.parse(stdout.text()) as { error: { code: string } };
    assert.deepEqual(validate('error.schema.json', doc), []);
    assert.equal(doc.error.code, 'EINTERNAL');
    const quiet = capture();
    reportStalled(['push', 'r/a:1', '--', '--json'], quiet.stream, capture().stream);
    assert.equal(quiet.text(), '', 'a --json after -- is an argument, not the flag');
  });
});

// With its stderr read by a pipe that closed (`2>&1 | head -1`, a log reader that died), a pull
// died at its next progress line of an uncaught EPIPE: status 1, no word, no --json document, and
// the layout it had just created left holding a blob and no image.
describe('cli main: a closed stderr ends none of the command', () => {
  it('pull with nobody reading its stderr: the whole image lands, the --json document on stdout, status 0', async () => {
    const registry = await startRegistry();
    const tmp = await tempDir();
    try {
      const rootfs = join(tmp.path, 'rootfs');
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'data'), randomBytes(256 * 1024));
      const source = join(tmp.path, 'source');
      assert.equal(runCli(['build', rootfs, '--layout', source, '--tag', 'app', '-q']).status, 0);
      assert.equal(runCli(['push', '--layout', source, '--tag', 'app', `${registry.host}/closed/app:1`, '-q']).status, 0);

      const into = join(tmp.path, 'pulled');
      const child = spawn(process.execPath, [CLI, 'pull', `${registry.host}/closed/app:1`, '--layout', into, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // Closed before the command writes its first line: every write to stderr fails with EPIPE.
      child.stderr.destroy();
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      const [status] = await once(child, 'close') as [number | null];
      assert.equal(status, 0);
      const result = JSON.parse(stdout) as { digest: string };
      assert.equal(result.digest, JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/closed/app:1`])).Digest);
      validateLayout(into, '1');
    } finally {
      await registry.stop();
      await tmp.cleanup();
    }
  });
});

// A shell whose directory was removed from elsewhere (`rm -rf build` in another terminal, a CI
// step's cleanup) got "internal error: Error: ENOENT: no such file or directory, uv_cwd", its
// stack and exit 70, as for a defect of ocipush's.
describe('cli main: a removed current directory', () => {
  it('is one line saying so, exit 1, and the error document with --json', async () => {
    const tmp = await tempDir();
    try {
      const gone = join(tmp.path, 'gone');
      mkdirSync(gone);
      const r = spawnSync('sh', ['-c', `cd '${gone}' && rmdir '${gone}' && exec '${process.execPath}' '${CLI}' ls oci:layout --json`], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, 'ocipush: the current directory no longer exists (it was removed): cd into one that does, or name every path in full\n');
      const doc = JSON.parse(r.stdout) as { error: { code: string } };
      assert.deepEqual(validate('error.schema.json', doc), []);
      assert.equal(doc.error.code, 'EREAD');
    } finally {
      await tmp.cleanup();
    }
  });
});
