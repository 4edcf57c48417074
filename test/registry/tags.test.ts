import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextLink } from '../../src/registry/tags.js';

describe('nextLink', () => {
  it('finds rel="next" among other links, relative or absolute', () => {
    assert.equal(nextLink(['</v2/a/tags/list?n=2&last=b>; rel="next"']), '/v2/a/tags/list?n=2&last=b');
    assert.equal(nextLink(['<https://r/x?last=1>; rel="prev", <https://r/x?last=3>; rel=next']), 'https://r/x?last=3');
    assert.equal(nextLink(['<https://r/x>; rel="prev"']), undefined);
    assert.equal(nextLink([]), undefined);
  });
});
