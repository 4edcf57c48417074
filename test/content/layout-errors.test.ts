import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../support/tools.js';
import { assertOneLineError } from '../cli/registry-support.js';

/**
 * `ocipush build` writes ./oci-layout; the directory holding it is no layout, though it holds a
 * file system entry named oci-layout. Naming it (`push . REF`, `inspect .`, `--layout .`) is one
 * line saying which directory is the layout, not "cannot read …/oci-layout: is a directory".
 */
test('a directory whose oci-layout is the layout ocipush build wrote names that layout', async () => {
  const tmp = await tempDir();
  try {
    const project = join(tmp.path, 'project');
    mkdirSync(join(project, 'rootfs'), { recursive: true });
    writeFileSync(join(project, 'rootfs', 'hello'), 'hello\n');
    assert.equal(runCli(['build', './rootfs', '-q'], { cwd: project, env: { OCIPUSH_LAYOUT: '' } }).status, 0);
    const named = new RegExp(`^ocipush: ${project}: not an OCI image layout \\(its oci-layout is a directory holding a layout: name that one, ${project}/oci-layout\\)$`);
    // Nothing is contacted: 127.0.0.1:9 is a closed port.
    assertOneLineError(runCli(['push', '.', '127.0.0.1:9/app:1'], { cwd: project }), named, 1);
    assertOneLineError(runCli(['inspect', '.'], { cwd: project }), named, 1);
    assertOneLineError(runCli(['ls', `oci:${project}`]), named, 1);
    assertOneLineError(runCli(['build', './rootfs', '--layout', '.'], { cwd: project }), named, 1);
    assert.deepEqual(readdirSync(project).sort(), ['oci-layout', 'rootfs'], 'nothing written beside them');
    // An oci-layout directory that holds no layout is named as what it is.
    const odd = join(tmp.path, 'odd');
    mkdirSync(join(odd, 'oci-layout'), { recursive: true });
    assertOneLineError(runCli(['inspect', odd]), new RegExp(`^ocipush: ${odd}: not an OCI image layout \\(its oci-layout is a directory, not the marker file\\)$`), 1);
  } finally {
    await tmp.cleanup();
  }
});
