import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcipushError } from '../src/errors.js';
import { redact, redactHeld, registerBasic, registerSecret } from '../src/redact.js';

describe('redact', () => {
  it('takes out registered secrets in every form they are quoted in, and their Basic form', () => {
    registerBasic('carol', 'p@ss word/1');
    registerSecret('tok-2c9a71');
    const basic = Buffer.from('carol:p@ss word/1').toString('base64');
    const text = `a p@ss word/1 b ${encodeURIComponent('p@ss word/1')} c ${basic} d tok-2c9a71`;
    assert.equal(redact(text), 'a <redacted> b <redacted> c <redacted> d <redacted>');
    assert.equal(new OcipushError('EAUTH', `server said: tok-2c9a71`).message, 'server said: <redacted>');
  });

  it('takes out credential-shaped text it was never told about', () => {
    assert.equal(redact('authorization: Basic YWxpY2U6c2VjcmV0'), 'authorization: Basic <redacted>');
    assert.equal(redact('"Authorization":"Bearer eyJhbGciOi.abc.def"'), '"Authorization":"Bearer <redacted>"');
    assert.equal(redact('http://bob:pw12@proxy:3128'), 'http://bob:<redacted>@proxy:3128');
    assert.equal(redact('invalid image reference "alice:s3cret@127.0.0.1:5000/app"'), 'invalid image reference "alice:<redacted>@127.0.0.1:5000/app"');
    assert.equal(redact('{"Username":"u","Secret":"abc\\"def","x":1}'), '{"Username":"u","Secret":"<redacted>","x":1}');
    assert.equal(redact('{"ServerURL":"x","Secret":"cut-sho'), '{"ServerURL":"x","Secret":"<redacted>');
  });

  it('redactHeld (a result: what an image says) takes out the credentials held, not text shaped like one', () => {
    registerSecret('held-7f3e21');
    const env = 'DATABASE_URL=postgres://app:s3cret@db/app Authorization: Bearer abcdef0123456789';
    assert.equal(redactHeld(env), env);
    assert.equal(redactHeld(`token held-7f3e21`), 'token <redacted>');
  });

  it('takes a held secret out where it stands as a word, not from inside a longer word', () => {
    registerBasic('ci', 'test');
    assert.equal(redactHeld('pushed 127.0.0.1:5000/testing/app:latest'), 'pushed 127.0.0.1:5000/testing/app:latest');
    assert.equal(redact('{"tags":["latest"],"digest":"sha256:0test1"}'), '{"tags":["latest"],"digest":"sha256:0test1"}');
    assert.equal(redact('password test refused; ci:test@host; "test"'), 'password <redacted> refused; ci:<redacted>@host; "<redacted>"');
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'push localhost:5000/app:tag@sha256:0123 failed',
      'repo:tag@sha256:aa',
      'Bearer authentication required',
      'WWW-Authenticate: Basic realm="registry"',
      'give credentials in HTTP_PROXY: http://user:password@host:port',
      'copied docker-archive:app.tar:@1 to localhost:5000/app:1',
      'oci-archive:bundle.tar:@0',
    ]) assert.equal(redact(text), text);
  });
});
