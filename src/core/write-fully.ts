// Writes a list of buffers at a file position with writev (gathered, not copied), finishing
// a short write: rare on regular files, but a partial entry must never pass for a whole one.
import type { FileHandle } from 'node:fs/promises';

export async function writeFully(fh: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let pos = position;
  let rest = buffers;
  let left = buffers.reduce((n, b) => n + b.byteLength, 0);
  while (left > 0) {
    const { bytesWritten } = await fh.writev(rest as Uint8Array[], pos);
    if (bytesWritten === 0) throw new Error('writev wrote nothing');
    pos += bytesWritten;
    left -= bytesWritten;
    rest = skipBytes(rest, bytesWritten);
  }
}

/** `buffers` without their first `n` bytes (views, no copies). */
function skipBytes(buffers: readonly Uint8Array[], n: number): readonly Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < buffers.length && left >= buffers[i]!.byteLength) left -= buffers[i++]!.byteLength;
  if (i >= buffers.length) return [];
  return left === 0 ? buffers.slice(i) : [buffers[i]!.subarray(left), ...buffers.slice(i + 1)];
}
