import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError } from '../cli/registry-support.js';

/**
 * `ocipush build DIR` (the directory build, not -f) onto a Windows image: its working directory
 * as BuildKit's NormalizeWorkdir writes it, and no Linux-layout layer, as build -f refuses one.
 */
describe('directory build of a Windows image', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  const config = (tag: string) => JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:${tag}`])) as { os: string; config: Record<string, unknown> };
  const index = () => readFileSync(join(layout, 'index.json'), 'utf8');

  before(async () => {
    requireTool('skopeo');
    requireTool('umoci');
    tmp = await tempDir();
    layout = join(tmp.path, 'layout');
    // A Windows layer laid out as one (Files/…): the user's own, built as it is.
    mkdirSync(join(tmp.path, 'win', 'Files', 'Windows'), { recursive: true });
    assertOk(runCli(['build', join(tmp.path, 'win'), '--platform', 'windows/amd64', '--layout', layout, '--tag', 'base', '-q']));
    run('umoci', ['config', '--image', `${layout}:base`, '--tag', 'base-wd', '--config.workingdir', 'C:\\app']);
    mkdirSync(join(tmp.path, 'linux', 'etc'), { recursive: true });
    writeFileSync(join(tmp.path, 'linux', 'etc', 'app.conf'), 'x\n');
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('--workdir C:\\app is \\app, a relative one joins the base\'s (C:\\app → \\app\\logs), as WORKDIR gives them in a Windows build', () => {
    assertOk(runCli(['build', '--base', `oci:${layout}:base`, '--workdir', 'C:\\app', '--layout', layout, '--tag', 'wd', '-q']));
    assert.equal(config('wd').config.WorkingDir, '\\app');
    assertOk(runCli(['build', '--base', `oci:${layout}:base-wd`, '--workdir', 'logs', '--layout', layout, '--tag', 'wd-rel', '-q']));
    assert.equal(config('wd-rel').config.WorkingDir, '\\app\\logs');
    assertOk(runCli(['build', join(tmp.path, 'win'), '--platform', 'windows/amd64', '--workdir', 'C:\\', '--layout', layout, '--tag', 'wd-root', '-q']));
    assert.equal(config('wd-root').config.WorkingDir, '\\');
    // mutate changes the config as build --base does.
    assertOk(runCli(['mutate', `oci:${layout}:base-wd`, `oci:${layout}:mutated`, '--workdir', 'C:\\srv', '-q']));
    assert.equal(config('mutated').config.WorkingDir, '\\srv');
    // A Linux image keeps the path as docker build on Linux joins it.
    assertOk(runCli(['build', join(tmp.path, 'linux'), '--workdir', 'srv', '--layout', layout, '--tag', 'linux', '-q']));
    assert.equal(config('linux').config.WorkingDir, '/srv');
  });

  it('a workdir on another drive, a rootfs laid out for Linux, or --remove: one line, the layout as it was', () => {
    const before = index();
    assertOneLineError(runCli(['build', '--base', `oci:${layout}:base`, '--workdir', 'D:\\data', '--layout', layout, '--tag', 'bad']), /^ocipush: --workdir D:\\data: The specified path is not on the system drive \(C:\)$/, 2);
    assertOneLineError(runCli(['build', join(tmp.path, 'linux'), '--base', `oci:${layout}:base`, '--layout', layout, '--tag', 'bad']),
      new RegExp(`^ocipush: rootfs ${join(tmp.path, 'linux')} \\(etc at its top, not Files/\\): base image oci:${layout}:base is windows/amd64, and ocipush cannot write the layers of a Windows image .*with no rootfs$`));
    assertOneLineError(runCli(['build', '--base', `oci:${layout}:base`, '--remove', '/Files/Windows', '--layout', layout, '--tag', 'bad']), /^ocipush: --remove: base image .* is windows\/amd64, and ocipush cannot write the layers of a Windows image/);
    assert.equal(index(), before);
  });
});
