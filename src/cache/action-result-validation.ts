// What an ActionResult must be before the action cache stores it, whichever protocol
// brought it (Bazel HTTP PUT /ac/, REAPI UpdateActionResult): one decoder, one validation,
// one size bound. A refusal is InvalidArgument (TooLarge for the size) naming the field, so
// each frontend answers it with its own status for that code (rule 7) and stores nothing.
import { decodeActionResult } from '../core/action-result.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { digestOfMessage, type DigestMessage } from '../core/proto-values.ts';

export { digestOfMessage, int64, type DigestMessage, type Int64 } from '../core/proto-values.ts';

/**
 * The fields of a decoded REAPI ActionResult the cache reads or rewrites. Decoded messages
 * are protobufjs instances: unset repeated fields read as empty arrays, unset messages as
 * null, unset bytes as empty (a Buffer or `[]`); a plain object may leave them undefined.
 */
export interface ActionResultMessage {
  outputFiles?: { path: string; digest?: DigestMessage | null; contents?: Uint8Array | null }[];
  outputDirectories?: { path: string; treeDigest?: DigestMessage | null; rootDirectoryDigest?: DigestMessage | null }[];
  outputFileSymlinks?: { path: string }[];
  outputDirectorySymlinks?: { path: string }[];
  outputSymlinks?: { path: string }[];
  stdoutRaw?: Uint8Array | null;
  stdoutDigest?: DigestMessage | null;
  stderrRaw?: Uint8Array | null;
  stderrDigest?: DigestMessage | null;
  executionMetadata?: { worker?: string } | null;
}

/**
 * ActionResults are small messages (their outputs are CAS blobs); an encoded one larger
 * than this is refused before it is read. REAPI's receive limit is below it anyway.
 */
export const MAX_ENCODED_ACTION_RESULT_BYTES = 16 * 1024 * 1024;

/** Throws TooLarge for an encoded ActionResult of more than MAX_ENCODED_ACTION_RESULT_BYTES. */
export function checkEncodedActionResultSize(size: number): void {
  if (size > MAX_ENCODED_ACTION_RESULT_BYTES) {
    throw new HoardError(
      ErrorCode.TooLarge,
      `an ActionResult of ${size} bytes exceeds ${MAX_ENCODED_ACTION_RESULT_BYTES} bytes`,
    );
  }
}

/** Decodes and validates an encoded ActionResult (InvalidArgument when it is neither). */
export function decodeValidActionResult(bytes: Uint8Array): ActionResultMessage {
  const ar = decodeActionResult(bytes) as ActionResultMessage;
  validateActionResult(ar);
  return ar;
}

/**
 * Every path relative, non-empty (an output directory may be '', the working directory)
 * and without a '..' segment; every digest present where one is needed and well-formed;
 * every output directory with a tree or a root directory digest. An output file needs a
 * digest unless it carries its bytes inline (REAPI moves those into the CAS).
 */
export function validateActionResult(ar: ActionResultMessage): void {
  (ar.outputFiles ?? []).forEach((f, i) => {
    checkPath(f.path, `output_files[${i}].path`);
    if ((f.contents?.length ?? 0) === 0 || f.digest) digestOfMessage(f.digest, `output_files[${i}].digest`);
  });
  (ar.outputDirectories ?? []).forEach((d, i) => {
    checkPath(d.path, `output_directories[${i}].path`, true);
    if (!d.treeDigest && !d.rootDirectoryDigest) {
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `output_directories[${i}] has neither tree_digest nor root_directory_digest`,
      );
    }
    if (d.treeDigest) digestOfMessage(d.treeDigest, `output_directories[${i}].tree_digest`);
    if (d.rootDirectoryDigest) digestOfMessage(d.rootDirectoryDigest, `output_directories[${i}].root_directory_digest`);
  });
  for (const [name, list] of [
    ['output_symlinks', ar.outputSymlinks],
    ['output_file_symlinks', ar.outputFileSymlinks],
    ['output_directory_symlinks', ar.outputDirectorySymlinks],
  ] as const) {
    (list ?? []).forEach((s, i) => checkPath(s.path, `${name}[${i}].path`));
  }
  if (ar.stdoutDigest) digestOfMessage(ar.stdoutDigest, 'stdout_digest');
  if (ar.stderrDigest) digestOfMessage(ar.stderrDigest, 'stderr_digest');
}

function checkPath(p: string, field: string, mayBeEmpty = false): void {
  if ((!p && !mayBeEmpty) || p.startsWith('/') || p.split('/').some((s) => s === '..')) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `${field}: path ${JSON.stringify(p)} must be relative, non-empty and without ".."`,
    );
  }
}
