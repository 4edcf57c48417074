import { spawn, spawnSync } from 'node:child_process';
import { Duplex } from 'node:stream';

const found = new Map<string, boolean>();

/** Whether a command is on PATH (asked once per process). */
export function hasTool(name: string): boolean {
  let present = found.get(name);
  if (present === undefined) {
    present = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
    found.set(name, present);
  }
  return present;
}

/**
 * A decompressor that is a command (`zstd -dcq` where Node's zlib lacks zstd, `xz -dc`): what is
 * written goes to its stdin, what it prints is read, with backpressure both ways. It ends only
 * when the command exits 0; any other exit fails the stream with the first line the command
 * printed (as `failure` words it), so cut output is never taken for whole. Destroyed early, it
 * kills the command.
 */
export function commandDecompressor(command: readonly string[], failure: (message: string) => Error = (message) => new Error(message)): Duplex {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => { if (stderr.length < 4096) stderr += text; });
  const duplex = new Duplex({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      if (child.stdin.write(chunk)) done();
      else child.stdin.once('drain', () => done());
    },
    final(done) {
      child.stdin.end();
      done();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, done) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      done(err);
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause();
  });
  // The command stopped reading (EPIPE): its exit status says why.
  child.stdin.on('error', () => {});
  child.on('error', (err) => duplex.destroy(err));
  child.on('close', (code, signal) => {
    if (code === 0) duplex.push(null);
    else duplex.destroy(failure(`${command[0]}: ${stderr.trim().split('\n')[0] || `exited with ${code ?? signal}`}`));
  });
  return duplex;
}
