import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyChmod, createdDirectoryMode, parseChmod } from '../../src/dockerfile/chmod.js';
import { parseDockerfile, resolveStages } from '../../src/dockerfile/index.js';
import { run, tempDir } from '../support/tools.js';

test('--chmod: octal up to 07777, symbolic modes as BuildKit (dchapes-mode, umask 0), the rest refused', () => {
  assert.deepEqual(parseChmod('0755'), { kind: 'octal', mode: 0o755 });
  assert.equal(parseChmod('go-w').kind, 'symbolic');
  for (const bad of ['999', '0x1', '17777', '8']) assert.throws(() => parseChmod(bad), /^Error: invalid chmod parameter: '.*'\. it should be octal string and between 0 and 07777$/);
  for (const bad of ['u', 'u+q', 'go-w,', 'z+x', '+r;']) assert.throws(() => parseChmod(bad), /invalid chmod parameter: '.*': invalid syntax/);
  // BuildKit's testChmodNonOctal cases, on a 0644 file and a 0755 directory.
  assert.equal(applyChmod(parseChmod('go-w'), 0o664, false), 0o644);
  assert.equal(applyChmod(parseChmod('u=rw,g=r,o=r'), 0o777, false), 0o644);
  assert.equal(applyChmod(parseChmod('a+X'), 0o644, false), 0o644);
  assert.equal(applyChmod(parseChmod('a+X'), 0o644, true), 0o755);
  assert.equal(applyChmod(parseChmod('u+rw,g+r,o-x,o+w'), 0o755, true), 0o756);
  assert.equal(applyChmod(parseChmod('u=rw'), 0o4711, true), 0o611);
  assert.equal(applyChmod(parseChmod('u=rw,g=r,o=r'), 0o1777, false), 0o1644);
  assert.equal(applyChmod(parseChmod('g=u'), 0o2750, false), 0o2770);
  // `s` and `t` for others alone are ignored by setmode (GNU chmod sets the sticky bit for o+t).
  assert.equal(applyChmod(parseChmod('g+s,o+t'), 0o644, false), 0o2644);
  assert.equal(applyChmod(parseChmod('o+s'), 0o644, false), 0o644);
  // X looks at the mode before the whole --chmod (GNU chmod looks at the mode so far).
  assert.equal(applyChmod(parseChmod('a-x+X'), 0o755, false), 0o755);
  assert.equal(applyChmod(parseChmod('+t'), 0o755, true), 0o1755);
  // Directories a COPY creates: an octal mode's permission bits, else 0755.
  assert.equal(createdDirectoryMode(parseChmod('0777')), 0o777);
  assert.equal(createdDirectoryMode(parseChmod('4750')), 0o750);
  assert.equal(createdDirectoryMode(parseChmod('go-w')), 0o755);
  assert.equal(createdDirectoryMode(undefined), 0o755);
});

test('a symbolic --chmod in a Dockerfile resolves; a bad one names the line', () => {
  const resolved = resolveStages(parseDockerfile('FROM scratch\nCOPY --chmod=go-w a /b\n'), {});
  assert.equal((resolved.stages[0]!.instructions[0] as { chmod?: string }).chmod, 'go-w');
  assert.throws(() => resolveStages(parseDockerfile('FROM scratch\nCOPY --chmod=u+q a /b\n'), {}), /^Error: Dockerfile:2:1: invalid chmod parameter: 'u\+q': invalid syntax$|Dockerfile:2:1: invalid chmod parameter: 'u\+q'/);
});

test('symbolic modes give what chmod(1) gives with umask 0, on files and directories', async () => {
  const work = await tempDir('ocipush-chmod-');
  try {
    const modes = ['go-w', 'u=rw,g=r,o=r', 'a+X', '+x', '-w', 'u+s', 'g+s', '+t', 'u=g', 'o=u', 'g+o', 'a=', 'u=rwx,go=', 'ug+rwX,o-rwx', 'u-w+x,g=u', '=r', '+s', 'u+x,g-s'];
    // Modes without setuid/setgid/sticky: GNU chmod keeps those through `=` where BSD's setmode
    // (BuildKit's) clears setuid/setgid and keeps sticky; the first test covers them.
    const starts = [0o644, 0o755, 0o600, 0o711, 0o070, 0o000];
    const cases: { mode: string; start: number; dir: boolean; path: string }[] = [];
    let n = 0;
    for (const mode of modes) {
      for (const start of starts) {
        for (const dir of [false, true]) {
          const path = join(work.path, `e${n++}`);
          if (dir) mkdirSync(path);
          else writeFileSync(path, '');
          chmodSync(path, start);
          cases.push({ mode, start, dir, path });
        }
      }
    }
    // One shell for all: umask 0 as BuildKit parses modes; `--` so "-w" is a mode.
    run('sh', ['-c', `umask 0; ${cases.map((c) => `chmod -- '${c.mode}' '${c.path}'`).join(' && ')}`]);
    for (const c of cases) {
      const expected = statSync(c.path).mode & 0o7777;
      const ours = applyChmod(parseChmod(c.mode), c.start, c.dir);
      assert.equal(ours.toString(8), expected.toString(8), `chmod ${c.mode} on a ${c.dir ? 'directory' : 'file'} ${c.start.toString(8)}`);
    }
  } finally {
    await work.cleanup();
  }
});
