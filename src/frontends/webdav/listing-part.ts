// One part of a collection's listing as stored: JSON of its members, files with their size
// and time, sub-collections with their time. A part is rewritten whole by every change, so
// its bounds are what one PUT into a directory may cost to read and write back.

/** Members one part holds at most (then 507, once the absent ones are pruned). */
export const MAX_MEMBERS = 10_000;
/** Encoded bytes one part holds at most: long names must not make every PUT rewrite megabytes. */
export const MAX_PART_BYTES = 1024 * 1024;
/** The size listed for a file whose PUT had no Content-Length and has not ended yet. */
export const UNKNOWN_SIZE = -1;

export interface FileInfo {
  /** As listed; UNKNOWN_SIZE while a chunked upload is running. */
  readonly size: number;
  /** Milliseconds since the epoch, when this server listed it. */
  readonly modified: number;
}

/** A collection's members as its parts say (not checked against the store). */
export interface Members {
  readonly files: Map<string, FileInfo>;
  /** Sub-collections and when they were listed. */
  readonly dirs: Map<string, number>;
}

interface PartJson {
  files: Record<string, [number, number]>;
  dirs: Record<string, number>;
}

export function emptyMembers(): Members {
  return { files: new Map(), dirs: new Map() };
}

export function memberCount(m: Members): number {
  return m.files.size + m.dirs.size;
}

export function encodePart(m: Members): Buffer {
  const json: PartJson = {
    files: Object.fromEntries([...m.files].map(([name, f]) => [name, [f.size, f.modified]])),
    dirs: Object.fromEntries(m.dirs),
  };
  return Buffer.from(JSON.stringify(json));
}

/** Throws on anything but a part this file wrote. */
export function decodePart(bytes: Buffer): Members {
  const json = JSON.parse(bytes.toString('utf8')) as Partial<PartJson>;
  const m = emptyMembers();
  for (const [name, v] of Object.entries(json.files ?? {})) {
    if (!Array.isArray(v) || !Number.isSafeInteger(v[0]) || !Number.isFinite(v[1])) throw new Error(`bad file ${name}`);
    m.files.set(name, { size: v[0], modified: v[1] });
  }
  for (const [name, at] of Object.entries(json.dirs ?? {})) {
    if (!Number.isFinite(at)) throw new Error(`bad collection ${name}`);
    m.dirs.set(name, at);
  }
  return m;
}

/** Merges `part` into `into`: per name, the latest listing wins. */
export function mergeMembers(into: Members, part: Members): void {
  for (const [name, info] of part.files) {
    const seen = into.files.get(name);
    if (seen === undefined || seen.modified < info.modified) into.files.set(name, info);
  }
  for (const [name, at] of part.dirs) into.dirs.set(name, Math.max(at, into.dirs.get(name) ?? 0));
}
