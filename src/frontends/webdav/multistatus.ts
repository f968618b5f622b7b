// The PROPFIND answer (RFC 4918 §9.1, §13): a 207 multistatus XML body, one `response` per
// resource with exactly one `propstat` (opendal's parser takes one) holding the live
// properties both clients read: `getlastmodified` (an RFC 1123 date; opendal refuses an
// answer without it), `getcontentlength` (files only: rclone compares sizes with it),
// `resourcetype` (`collection` for directories) and the status line. Request bodies are
// not parsed: every PROPFIND is answered as `allprop` with this fixed set, which both
// clients accept for the `prop` requests they send.

/** One resource of a multistatus answer. */
export interface DavResource {
  /** Absolute, percent-encoded path (hrefOf); a collection's ends in `/`. */
  readonly href: string;
  readonly collection: boolean;
  /** Files only. */
  readonly size?: number;
  /** Milliseconds since the epoch. */
  readonly modified: number;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** `text` safe inside XML character data or a quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/**
 * The href of `path` below `base` (the URL prefix and the mount), each segment
 * percent-encoded (a segment may hold any character but `/` and controls), with a trailing
 * `/` for a collection as RFC 4918 §5.2 asks.
 */
export function hrefOf(base: readonly string[], path: readonly string[], collection: boolean): string {
  const all = [...base, ...path].map(encodeURIComponent).join('/');
  return collection ? `/${all}/` : `/${all}`;
}

export const MULTISTATUS_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">';
export const MULTISTATUS_TAIL = '</D:multistatus>\n';

/** One `response` element of a multistatus body. */
export function responseXml(r: DavResource): string {
  const type = r.collection
    ? '<D:resourcetype><D:collection/></D:resourcetype>'
    : `<D:getcontentlength>${r.size ?? 0}</D:getcontentlength><D:resourcetype/>`;
  return (
    `<D:response><D:href>${escapeXml(r.href)}</D:href><D:propstat><D:prop>` +
    `<D:getlastmodified>${new Date(r.modified).toUTCString()}</D:getlastmodified>${type}` +
    '</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>'
  );
}

/** The XML body of a 207 answer listing `resources` in order. */
export function multistatus(resources: readonly DavResource[]): string {
  return MULTISTATUS_HEAD + resources.map(responseXml).join('') + MULTISTATUS_TAIL;
}

/** The body of a 403 refusing `Depth: infinity` (RFC 4918 §9.1, the precondition of §16). */
export const FINITE_DEPTH_ERROR =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n';
