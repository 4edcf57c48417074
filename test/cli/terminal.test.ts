import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, requireTool, tempDir } from '../support/tools.js';
import { envWith, PASSWORD, startTwoRegistries, type TwoRegistries } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let regs: TwoRegistries;
let n = 0;

before(async () => {
  tmp = await tempDir();
  regs = await startTwoRegistries(tmp.path);
});
after(async () => {
  await regs?.stop();
  await tmp?.cleanup();
});

/**
 * `ocipush login HOST -u alice` on a pseudo-terminal (script(1)), the keys typed once
 * `Password: ` shows; then `stty -a` on the same terminal, to see echo was turned back on.
 */
async function loginTyping(keys: string): Promise<{ screen: string; status: string | undefined; echo: boolean; dir: string }> {
  requireTool('script');
  const dir = join(tmp.path, `docker-${++n}`);
  mkdirSync(dir, { recursive: true });
  const command = `${process.execPath} ${CLI} login ${regs.staging.host} -u alice; echo "status=$?"; stty -a`;
  const env = { ...process.env, ...envWith(dir) };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (!typed && /Password: $/.test(screen)) { typed = true; child.stdin.write(keys); }
  });
  await new Promise((resolve) => child.on('close', resolve));
  return { screen, status: /status=(\d+)/.exec(screen)?.[1], echo: /(^|\s)echo(\s|$)/.test(screen.slice(screen.indexOf('status='))), dir };
}

describe('the password prompt (raw mode) reads the keys a terminal would edit the line with', () => {
  it('Ctrl-D on an empty answer ends it, as at a cooked prompt: one line, status 130, nothing stored, echo back on', async () => {
    // Enter after it: were Ctrl-D a character of the password, that Enter would send it.
    const r = await loginTyping('\u0004\r');
    assert.equal(r.status, '130', r.screen);
    assert.match(r.screen, /\nocipush: no answer typed at "Password:" \(end of input\)\r?\n/);
    assert.doesNotMatch(r.screen, /authentication|refused/);
    assert.ok(r.echo, r.screen);
    assert.ok(!existsSync(join(r.dir, 'config.json')), 'nothing stored');
  });

  it('Ctrl-U erases what was typed and backspace a whole character: the password sent is the one seen typed', async () => {
    const r = await loginTyping(`a mistake\u0015${PASSWORD}é\u007f\r`);
    assert.equal(r.status, '0', r.screen);
    assert.ok(!r.screen.includes(PASSWORD), 'never shown');
    assert.ok(r.echo, r.screen);
    const auths = (JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> }).auths;
    assert.equal(Buffer.from(auths[regs.staging.host]!.auth, 'base64').toString(), `alice:${PASSWORD}`);
  });

  it('Ctrl-C names the prompt it stopped, status 130, echo back on', async () => {
    const r = await loginTyping('\u0003');
    assert.equal(r.status, '130', r.screen);
    assert.match(r.screen, /\nocipush: interrupted at "Password:"\r?\n/);
    assert.ok(r.echo, r.screen);
  });
});
