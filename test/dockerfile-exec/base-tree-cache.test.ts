import assert from 'node:assert/strict';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BaseTreeCache } from '../../src/dockerfile-exec/base-tree-cache.js';
import { dirNode, FsTree } from '../../src/dockerfile-exec/tree.js';
import { sha256 } from '../../src/oci/digest.js';
import { tempDir } from '../support/tools.js';

/** The base trees a layout keeps: what a later build plans on, and what is left on disk. */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-base-tree-cache-');
});
after(async () => {
  await tmp?.cleanup();
});

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function sampleTree(): FsTree {
  const tree = new FsTree('image base');
  const etc = dirNode({ mode: 0o755, mtime: 5 });
  etc.children!.set('passwd', { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 5, mtime: 6, data: Buffer.from('root\n') });
  etc.children!.set('__proto__', { type: 'file', mode: 0o600, uid: 1, gid: 2, size: 9, mtime: 7 });
  etc.children!.set('😀 ü', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 8, linkname: '../x' });
  etc.children!.set('null', { type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 0, devmajor: 1, devminor: 3 });
  etc.children!.set('ping', { type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 0, xattrs: Buffer.from('cap') });
  tree.root.children!.set('etc', etc);
  tree.root.children!.set('tmp', dirNode({ mode: 0o1777 }));
  tree.root.children!.set('home', dirNode({ children: new Map([['app', dirNode({ mode: 0o750, uid: 1000, gid: 1000 })]]) }));
  return tree;
}

describe('the base trees a layout keeps', () => {
  it('give back every name, type, owner, mode, time, link target and device; the bytes only of /etc/passwd and /etc/group', async () => {
    const cache = new BaseTreeCache(join(tmp.path, 'layout'));
    const tree = sampleTree();
    await cache.write(digest(1), tree);
    const read = await cache.read(digest(1), 'image base');
    assert.ok(read);
    assert.equal(read.partial, false);
    assert.deepEqual(read.root, tree.root);
    assert.equal(await cache.read(digest(2), 'image base'), undefined);
  });

  it('are planned on only as written: another manifest\'s entry, a tree changed on disk, a node not well formed are misses', async () => {
    const cache = new BaseTreeCache(join(tmp.path, 'checked'));
    await cache.write(digest(1), sampleTree());
    const entry = (n: number) => join(cache.dir, `${digest(n).slice(7)}.json`);
    const text = readFileSync(entry(1), 'utf8');
    const [header, body] = [text.slice(0, text.indexOf('\n')), text.slice(text.indexOf('\n') + 1)];
    assert.ok(await cache.read(digest(1), 'image base'));
    // Under another manifest's name.
    writeFileSync(entry(3), text);
    assert.equal(await cache.read(digest(3), 'image base'), undefined);
    // /tmp 1777 made 1773, still a mode: the tree no longer matches its digest.
    const changed = body.replace('["tmp",1,1023,', '["tmp",1,1019,');
    assert.notEqual(changed, body);
    writeFileSync(entry(1), `${header}\n${changed}`);
    assert.equal(await cache.read(digest(1), 'image base'), undefined);
    // Well hashed, but not what a writer writes: a mode that is no mode, a negative owner, kept bytes that are not the size.
    const rehashed = (tree: string) => `${header.replace(/"tree":"[^"]+"/, `"tree":"${sha256(tree)}"`)}\n${tree}`;
    writeFileSync(entry(1), rehashed(body));
    assert.ok(await cache.read(digest(1), 'image base'), 'the header rewritten as it was');
    for (const bad of [body.replace('["tmp",1,1023,', '["tmp",1,"1023",'), body.replace('["tmp",1,1023,', '["tmp",1,65535,'),
      body.replace('["tmp",1,1023,0,', '["tmp",1,1023,-1,'), body.replace(',5,"cm9vdAo="]', ',6,"cm9vdAo="]'), body.replace('"passwd"', '"a/b"')]) {
      assert.notEqual(bad, body);
      writeFileSync(entry(1), rehashed(bad));
      assert.equal(await cache.read(digest(1), 'image base'), undefined, bad);
    }
  });

  it('keep the 16 most recently used, leave other files alone, and remove a killed writer\'s temp file once it is an hour old', async () => {
    const cache = new BaseTreeCache(join(tmp.path, 'trimmed'));
    const tree = sampleTree();
    const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
    for (let i = 0; i < 16; i++) {
      await cache.write(digest(i), tree);
      // Entry 0 was used longest ago, entry 15 last.
      utimesSync(join(cache.dir, `${digest(i).slice(7)}.json`), past(1000 - i), past(1000 - i));
    }
    writeFileSync(join(cache.dir, 'notes.txt'), 'mine\n');
    writeFileSync(join(cache.dir, '.x.json.tmp-123-abcd'), '{');
    writeFileSync(join(cache.dir, '.y.json.tmp-124-abcd'), '{');
    utimesSync(join(cache.dir, '.x.json.tmp-123-abcd'), past(7200), past(7200));
    // Reading entry 0 makes it the most recently used: entry 1 goes when a 17th is written.
    assert.ok(await cache.read(digest(0), 'image base'));
    await cache.write(digest(200), tree);
    const left = readdirSync(cache.dir).sort();
    assert.equal(left.filter((n) => n.endsWith('.json')).length, 16);
    assert.equal(left.includes(`${digest(1).slice(7)}.json`), false);
    for (const kept of [0, 2, 15, 200]) assert.equal(left.includes(`${digest(kept).slice(7)}.json`), true, `entry ${kept}`);
    assert.deepEqual(left.filter((n) => !n.endsWith('.json')), ['.y.json.tmp-124-abcd', 'notes.txt']);
  });
});
