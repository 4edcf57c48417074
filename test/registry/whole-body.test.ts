import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { proxiedRegistry } from './proxied-registry.js';

/**
 * The small documents besides manifests that a command reads whole, a page of a tag list and the
 * referrers tag schema's index: a connection that breaks in their body after the 200 is asked
 * again with the retry policy, as a manifest's is, instead of the command failing on the first
 * break (or reading the bytes that came as the whole answer).
 */
describe('a tag list or a referrers index whose connection breaks in the body', () => {
  const f = proxiedRegistry([4096], 'cut/app:v1');
  const cut = (path: RegExp) => ({ method: 'GET', path, times: 1, fault: { kind: 'cut-response' as const, afterBytes: 10 } });

  it('ls asks for the page again and lists the tag', async () => {
    f.proxy.addFault(cut(/\/tags\/list/));
    const r = await runCliAsync(['ls', `${f.proxy.host}/cut/app`]);
    assertOk(r);
    assert.equal(r.stdout, 'v1\n');
    assert.deepEqual(f.proxy.requests().filter((q) => q.path.includes('/tags/list')).map((q) => q.fault ?? 'whole'), ['cut-response', 'whole']);
  });

  it('referrers asks for the referrers tag index again and lists the artifact attached', async () => {
    const notes = join(f.tmp.path, 'notes.txt');
    await writeFile(notes, 'reviewed\n');
    assertOk(await runCliAsync(['attach', `${f.registry.host}/cut/app:v1`, notes, '--artifact-type', 'application/vnd.example.notes']));
    f.proxy.clearRequests();
    f.proxy.addFault(cut(/\/manifests\/sha256-/));
    const r = await runCliAsync(['referrers', `${f.proxy.host}/cut/app:v1`, '--json']);
    assertOk(r);
    assert.match(r.stdout, /application\/vnd\.example\.notes/);
    assert.deepEqual(f.proxy.requests().filter((q) => q.method === 'GET' && q.path.includes('/manifests/sha256-')).map((q) => q.fault ?? 'whole'), ['cut-response', 'whole']);
  });
});
