import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawAcMatcher } from './raw-ac.ts';

describe('rawAcMatcher (--ac-mode, --raw-ac-prefixes)', () => {
  it('validate: only the listed prefixes are raw, matched whole', () => {
    const isRaw = rawAcMatcher({ acMode: 'validate', rawAcPrefixes: ['ccache', 'tools/ccache'] });
    assert.equal(isRaw('ccache'), true);
    assert.equal(isRaw('tools/ccache'), true);
    assert.equal(isRaw(''), false);
    assert.equal(isRaw('ccache/sub'), false);
    assert.equal(isRaw('tools'), false);
    assert.equal(isRaw('other'), false);
  });

  it('validate with no prefixes: nothing is raw', () => {
    const isRaw = rawAcMatcher({ acMode: 'validate', rawAcPrefixes: [] });
    assert.equal(isRaw(''), false);
    assert.equal(isRaw('ccache'), false);
  });

  it('raw: every prefix is raw, listed or not', () => {
    const isRaw = rawAcMatcher({ acMode: 'raw', rawAcPrefixes: ['ccache'] });
    assert.equal(isRaw(''), true);
    assert.equal(isRaw('anything'), true);
  });
});
