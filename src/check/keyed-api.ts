// The key-value surface each mounted protocol shares (PUT an entry under a key, GET it
// back, 404 for a miss), described once per protocol the way its real client speaks it:
// where the key goes, which headers it sends, which PUT statuses it takes as stored. The
// shared checks (keyed-checks.ts, upload-cut-checks.ts) run over this description; the
// protocol files add what only their protocol has.
import { randomBytes } from 'node:crypto';

export interface KeyedApi {
  /** For messages: "turbo", "Nx"... */
  readonly client: string;
  /** A fresh key in the protocol's own shape, never used by an earlier run. */
  newKey(): string;
  /** The entry's path, relative to the server URL the client is pointed at (query included). */
  path(key: string): string;
  /** Headers the real client sends on PUT (Content-Length is added per request). */
  readonly putHeaders: Readonly<Record<string, string>>;
  /** Headers the real client sends on GET. */
  readonly getHeaders: Readonly<Record<string, string>>;
  /** Whether the real client takes this PUT status as "stored". */
  stored(status: number): boolean;
  /** Those statuses in words, for messages ("exactly 200", "any 2xx"). */
  readonly storedText: string;
  /** The real client probes with HEAD (turbo): a hit answers 200, a miss 404. */
  readonly head: boolean;
  /** The Authorization scheme the real client uses when the flags give none. */
  readonly scheme: 'Bearer' | 'Basic';
}

const anyOk = (s: number): boolean => s >= 200 && s < 300;
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Turborepo: `{api}/v8/artifacts/{hash}?slug={team}`, 16-hex hashes, Bearer; turbo takes any 2xx. */
export function turboApi(team: string): KeyedApi {
  return {
    client: 'turbo',
    newKey: () => hex(8),
    path: (key) => `v8/artifacts/${key}${teamQuery(team)}`,
    putHeaders: { 'content-type': 'application/octet-stream', 'x-artifact-duration': '1000' },
    getHeaders: {},
    stored: anyOk,
    storedText: 'any 2xx',
    head: true,
    scheme: 'Bearer',
  };
}

/** `?slug=TEAM` as turbo sends it with --team (every artifact request), or '' without a team. */
export function teamQuery(team: string, sep = '?'): string {
  return team === '' ? '' : `${sep}slug=${encodeURIComponent(team)}`;
}

/** Nx: `{server}/v1/cache/{hash}`, decimal task hashes, Bearer; the client takes only 200 (nrwl/nx#32870). */
export const nxApi: KeyedApi = {
  client: 'Nx',
  newKey: () => BigInt(`0x${hex(8)}`).toString(10),
  path: (key) => `v1/cache/${key}`,
  putHeaders: { 'content-type': 'application/octet-stream' },
  getHeaders: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
  stored: (s) => s === 200,
  storedText: 'exactly 200',
  head: false,
  scheme: 'Bearer',
};

/** Gradle: `{url}/{key}` (the cache URL ends in '/'), 32-hex keys, Basic; any 2xx is stored. */
export const gradleApi: KeyedApi = {
  client: 'Gradle',
  newKey: () => hex(16),
  path: (key) => key,
  putHeaders: { 'content-type': 'application/vnd.gradle.build-cache-artifact.v2' },
  getHeaders: { accept: 'application/vnd.gradle.build-cache-artifact.v2, */*' },
  stored: anyOk,
  storedText: 'any 2xx',
  head: false,
  scheme: 'Basic',
};

/**
 * WebDAV (sccache through OpenDAL): `{endpoint}/{path}`. The shared checks use entries at
 * the root collection, which always exists; sccache's own nested layout, with PROPFIND and
 * MKCOL before each PUT, is its own check (webdav-checks.ts). OpenDAL takes 200, 201 and 204.
 */
export const webdavApi: KeyedApi = {
  client: 'sccache',
  newKey: () => `hoard-check-${hex(16)}`,
  path: (key) => key,
  putHeaders: { 'content-type': 'application/octet-stream' },
  getHeaders: {},
  stored: (s) => s === 200 || s === 201 || s === 204,
  storedText: '200, 201 or 204',
  head: false,
  scheme: 'Basic',
};
