import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namespaceOfHttpPrefix, namespaceOfInstanceName } from './namespaces.ts';

describe('namespaceOfHttpPrefix (--http-prefix)', () => {
  it('namespace: the URL prefix is the namespace, the empty prefix the default one', () => {
    assert.equal(namespaceOfHttpPrefix('namespace', 'team-a/x'), 'team-a/x');
    assert.equal(namespaceOfHttpPrefix('namespace', ''), '');
  });

  it('ignore: every prefix is the default namespace', () => {
    assert.equal(namespaceOfHttpPrefix('ignore', 'team-a/x'), '');
    assert.equal(namespaceOfHttpPrefix('ignore', ''), '');
  });
});

describe('namespaceOfInstanceName (instanceNamespacing)', () => {
  it('on: the instance name is the namespace; unset is the default one', () => {
    assert.equal(namespaceOfInstanceName(true, 'e2e/minimal'), 'e2e/minimal');
    assert.equal(namespaceOfInstanceName(true, ''), '');
    assert.equal(namespaceOfInstanceName(true, undefined), '');
  });

  it('off: every instance name is the default namespace', () => {
    assert.equal(namespaceOfInstanceName(false, 'e2e/minimal'), '');
    assert.equal(namespaceOfInstanceName(false, undefined), '');
  });
});
