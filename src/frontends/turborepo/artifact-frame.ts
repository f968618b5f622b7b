// One store entry per Turborepo artifact: a small frame holding the metadata turbo sends with
// the artifact (x-artifact-duration, x-artifact-tag, ...), then the artifact's bytes. Both go
// in ONE put, so they are published together and evicted together, and a GET finds both with
// the one lookup that reads the artifact.
//
// Frame: 'TRBA' | version (1 byte) | metadata length N (u16, big-endian) | N bytes of JSON
// holding the header values exactly as received. The artifact follows.
//
// `openArtifact` reads the frame off the front of an Entry and answers an Entry over the
// artifact alone, keeping the shape the store chose: a subarray of in-memory bytes, a file
// reader shifted past the frame (so the zero-copy file path and a request thread's span still
// work), or the rest of the stream.
import { Readable } from 'node:stream';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Entry, EntryFile } from '../../storage/store.ts';

const MAGIC = Buffer.from('TRBA', 'latin1');
const VERSION = 1;
const HEAD_BYTES = MAGIC.length + 1 + 2;
/** Room for every header value at its largest (tag 600, sha and dirty hash 200 each). */
const MAX_METADATA_BYTES = 4096;
/** The most a frame can take: what a HEAD reads to learn an artifact's metadata. */
export const MAX_FRAME_BYTES = HEAD_BYTES + MAX_METADATA_BYTES;
/** Chunk size of a stream made over a shifted file reader. */
const STREAM_CHUNK = 256 * 1024;

/** The header values stored with an artifact, byte for byte as the client sent them. */
export interface ArtifactMetadata {
  readonly duration?: string;
  readonly tag?: string;
  readonly sha?: string;
  readonly dirtyHash?: string;
}

export interface OpenedArtifact {
  readonly metadata: ArtifactMetadata;
  /** The artifact alone: `size` and bytes exclude the frame. */
  readonly entry: Entry;
}

function corrupt(why: string): HoardError {
  return new HoardError(ErrorCode.Corrupt, `stored Turborepo artifact: ${why}`);
}

export function encodeFrame(metadata: ArtifactMetadata): Buffer {
  const json = Buffer.from(JSON.stringify(metadata), 'utf8');
  if (json.length > MAX_METADATA_BYTES) {
    throw new HoardError(ErrorCode.InvalidArgument, `artifact metadata over ${MAX_METADATA_BYTES} bytes`);
  }
  const frame = Buffer.allocUnsafe(HEAD_BYTES + json.length);
  MAGIC.copy(frame, 0);
  frame[MAGIC.length] = VERSION;
  frame.writeUInt16BE(json.length, MAGIC.length + 1);
  json.copy(frame, HEAD_BYTES);
  return frame;
}

/** The whole frame's length once `head` holds its first bytes; undefined while too short. */
function frameLengthOf(head: Uint8Array): number | undefined {
  if (head.length < HEAD_BYTES) return undefined;
  if (Buffer.compare(head.subarray(0, MAGIC.length), MAGIC) !== 0) throw corrupt('no frame');
  if (head[MAGIC.length] !== VERSION) throw corrupt(`frame version ${head[MAGIC.length]}`);
  const n = (head[MAGIC.length + 1]! << 8) | head[MAGIC.length + 2]!;
  if (n > MAX_METADATA_BYTES) throw corrupt('frame too long');
  return HEAD_BYTES + n;
}

const FIELDS = ['duration', 'tag', 'sha', 'dirtyHash'] as const;

function decodeMetadata(frame: Uint8Array): ArtifactMetadata {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(frame.subarray(HEAD_BYTES)).toString('utf8'));
  } catch {
    throw corrupt('frame metadata is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw corrupt('frame metadata is not an object');
  const out: Record<string, string> = {};
  for (const f of FIELDS) {
    const v = (parsed as Record<string, unknown>)[f];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw corrupt(`frame field ${f} is not a string`);
    out[f] = v;
  }
  return out;
}

/**
 * Reads the frame off `entry` and answers the artifact that follows. Takes ownership of
 * `entry`: on failure (Corrupt) it is released here; on success the caller owns the answer's
 * entry as it would have owned `entry`. `entry` may be a range read from offset 0 (a HEAD's
 * `limit`); the answer's `size` is still the whole artifact's.
 */
export async function openArtifact(entry: Entry): Promise<OpenedArtifact> {
  if (entry.bytes !== undefined) {
    const bytes = entry.bytes;
    try {
      const length = frameLengthOf(bytes);
      if (length === undefined || bytes.length < length) throw corrupt('shorter than its frame');
      return {
        metadata: decodeMetadata(bytes.subarray(0, length)),
        entry: bytesEntry(entry.size - length, bytes.subarray(length), entry.release),
      };
    } catch (err) {
      entry.release?.();
      throw err;
    }
  }
  if (entry.file !== undefined) {
    const file = entry.file;
    try {
      const frame = await readFileFrame(file);
      return {
        metadata: decodeMetadata(frame),
        entry: fileEntry(entry.size - frame.length, shifted(file, frame.length)),
      };
    } catch (err) {
      await file.close();
      throw err;
    }
  }
  return openStream(entry.size, entry.stream);
}

/** Lets go of an entry nobody will read (a HEAD's): closes its file or stream. */
export function discardEntry(entry: Entry): void {
  if (entry.bytes !== undefined) entry.release?.();
  else if (entry.file !== undefined) void entry.file.close();
  else entry.stream.destroy();
}

async function readFileFrame(file: EntryFile): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(MAX_FRAME_BYTES);
  let have = 0;
  let length: number | undefined;
  while (length === undefined || have < length) {
    const n = await file.read(buf.subarray(have), have);
    if (n === 0) throw corrupt('shorter than its frame');
    have += n;
    length ??= frameLengthOf(buf.subarray(0, have));
  }
  return buf.subarray(0, length);
}

function bytesEntry(size: number, bytes: Buffer, release?: () => void): Entry {
  let stream: Readable | undefined;
  return {
    size,
    bytes,
    release,
    get stream(): Readable {
      return (stream ??= Readable.from([bytes], { objectMode: false }));
    },
  };
}

/** `file`'s reads (and span) moved `by` bytes on: the same file, without its frame. */
function shifted(file: EntryFile, by: number): EntryFile {
  const span = file.span;
  return {
    read: (buffer, offset) => file.read(buffer, offset + by),
    close: () => file.close(),
    span: span === undefined ? undefined : { fd: span.fd, start: span.start + by, length: span.length - by },
  };
}

function fileEntry(size: number, file: EntryFile): Entry {
  let stream: Readable | undefined;
  return {
    size,
    file,
    get stream(): Readable {
      if (stream === undefined) {
        stream = Readable.from(fileChunks(file), { objectMode: false });
        // Destroyed before its first read, the generator never runs its finally.
        stream.once('close', () => void file.close());
      }
      return stream;
    },
  };
}

async function* fileChunks(file: EntryFile): AsyncGenerator<Buffer> {
  try {
    for (let at = 0; ;) {
      const buf = Buffer.allocUnsafe(STREAM_CHUNK);
      const n = await file.read(buf, at);
      if (n === 0) return;
      at += n;
      yield buf.subarray(0, n);
    }
  } finally {
    await file.close();
  }
}

/** Reads the frame off the front of `source`; the answer's stream is the rest of it. */
async function openStream(size: number, source: Readable): Promise<OpenedArtifact> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer = Buffer.alloc(0);
  let length: number | undefined;
  let metadata: ArtifactMetadata;
  try {
    while (length === undefined || head.length < length) {
      const step = await it.next();
      if (step.done === true) throw corrupt('shorter than its frame');
      head = head.length === 0 ? step.value : Buffer.concat([head, step.value]);
      length ??= frameLengthOf(head);
    }
    metadata = decodeMetadata(head.subarray(0, length));
  } catch (err) {
    source.destroy();
    throw err;
  }
  const frameLength = length;
  const rest = head.subarray(frameLength);
  async function* remainder(): AsyncGenerator<Buffer> {
    try {
      if (rest.length > 0) yield rest;
      for (;;) {
        const step = await it.next();
        if (step.done === true) return;
        yield step.value;
      }
    } finally {
      source.destroy();
    }
  }
  const stream = Readable.from(remainder(), { objectMode: false });
  // Destroyed before its first read, the generator never runs its finally.
  stream.once('close', () => source.destroy());
  return { metadata, entry: { size: size - frameLength, stream } };
}
