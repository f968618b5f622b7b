import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeXml, hrefOf, multistatus } from './multistatus.ts';

test('hrefs are percent-encoded per segment, collections end in a slash, and XML text is escaped', () => {
  assert.equal(hrefOf(['team', 'sccache'], ['a b', 'x&y<z>#?%'], false), '/team/sccache/a%20b/x%26y%3Cz%3E%23%3F%25');
  assert.equal(hrefOf(['sccache'], [], true), '/sccache/');
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  const xml = multistatus([
    { href: '/d/', collection: true, modified: 0 },
    { href: '/d/f', collection: false, size: 7, modified: Date.UTC(2026, 0, 2, 3, 4, 5) },
  ]);
  assert.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>\n<D:multistatus xmlns:D="DAV:">/);
  assert.match(
    xml,
    /<D:getlastmodified>Thu, 01 Jan 1970 00:00:00 GMT<\/D:getlastmodified><D:resourcetype><D:collection\/>/,
  );
  assert.match(
    xml,
    /Fri, 02 Jan 2026 03:04:05 GMT<\/D:getlastmodified><D:getcontentlength>7<\/D:getcontentlength><D:resourcetype\/>/,
  );
  assert.equal(xml.match(/<D:status>HTTP\/1.1 200 OK<\/D:status>/g)?.length, 2);
});
