// zstd for compressed-blobs resources and Batch* entries, with Node 24's built-in zlib.
// Decompression is always bounded by the declared uncompressed size: a tiny payload that
// expands to gigabytes is cut as soon as the output passes that size, so memory stays at
// one zlib chunk. The caller still verifies the output against the uncompressed digest.
import { pipeline, Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ErrorCode, HoardError } from '../../core/errors.ts';

/** Window bound for untrusted frames (2^27 = zstd's own default limit, 128 MiB). */
const WINDOW_LOG_MAX = 27;

/** One whole compressed buffer → exactly `size` bytes, or SizeMismatch / InvalidArgument. */
export function decompressBounded(data: Uint8Array, size: number): Buffer {
  let out: Buffer;
  try {
    out = zlib.zstdDecompressSync(data, {
      maxOutputLength: Math.max(1, size),
      params: { [zlib.constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX },
    });
  } catch (err) {
    throw decompressError(err, size);
  }
  if (out.byteLength !== size) {
    throw new HoardError(
      ErrorCode.SizeMismatch,
      `zstd data decompresses to ${out.byteLength} bytes, but the digest says ${size}`,
    );
  }
  return out;
}

/**
 * Streams `source` (compressed chunks) through a zstd decoder, yielding the uncompressed
 * bytes; fails with SizeMismatch at the first byte past `size` and when the frame ends
 * short. Destroying the consumer (or `signal`) tears the decoder down.
 */
export async function* decompressStream(
  source: AsyncIterable<Uint8Array>,
  size: number,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const decoder = zlib.createZstdDecompress({ params: { [zlib.constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX } });
  // Callback pipeline forwards errors both ways (never a bare .pipe); we iterate its tail.
  const out = pipeline(Readable.from(source, { objectMode: false, signal }), decoder, () => undefined);
  let total = 0;
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > size) {
        throw new HoardError(
          ErrorCode.SizeMismatch,
          `zstd data decompresses to more than the ${size} bytes its digest declares`,
        );
      }
      yield chunk;
    }
  } catch (err) {
    throw decompressError(err, size);
  } finally {
    out.destroy();
  }
  if (total !== size) {
    throw new HoardError(
      ErrorCode.SizeMismatch,
      `zstd data decompresses to ${total} bytes, but the digest says ${size}`,
    );
  }
}

export function compressBytes(data: Uint8Array, level: number): Buffer {
  return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
}

/** A zstd encoder stream; the caller pipes into it with `pipeline`. */
export function createCompressor(level: number): zlib.ZstdCompress {
  return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
}

function decompressError(err: unknown, size: number): HoardError {
  if (err instanceof HoardError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return new HoardError(
      ErrorCode.SizeMismatch,
      `zstd data decompresses to more than the ${size} bytes its digest declares`,
      { cause: err },
    );
  }
  if (code.startsWith('ZSTD_') || code.startsWith('Z_')) {
    return new HoardError(ErrorCode.InvalidArgument, `data is not a valid zstd frame: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // An abort or a transport error from the source passes through unchanged in kind.
  if (err instanceof Error && (err.name === 'AbortError' || code === 'ABORT_ERR')) {
    return new HoardError(ErrorCode.Aborted, 'the transfer was aborted before it completed', { cause: err });
  }
  return new HoardError(ErrorCode.Internal, (err as Error).message ?? String(err), { cause: err });
}
