// Decodes ActionResult and Tree messages and lists the CAS blobs they reference, for the
// completeness check of rule 6 (never answer an AC hit whose outputs cannot be served).
import { ErrorCode, HoardError } from './errors.ts';
import type { Digest } from './digest.ts';
import { protoType, REAPI } from './proto.ts';

interface DigestMsg {
  hash?: string;
  sizeBytes?: number | { toNumber(): number };
}
interface DirectoryMsg {
  files?: { digest?: DigestMsg }[];
  directories?: { digest?: DigestMsg }[];
}
interface ActionResultMsg {
  outputFiles?: { digest?: DigestMsg }[];
  outputDirectories?: { treeDigest?: DigestMsg; rootDirectoryDigest?: DigestMsg }[];
  stdoutDigest?: DigestMsg;
  stderrDigest?: DigestMsg;
}
interface TreeMsg {
  root?: DirectoryMsg;
  children?: DirectoryMsg[];
}

export interface ActionResultRefs {
  /** Output files, stdout and stderr. */
  readonly files: Digest[];
  /** Encoded Tree messages of output directories; their files are references too. */
  readonly trees: Digest[];
  /**
   * Root Directory digests of output directories that carry no tree digest (REAPI's
   * DIRECTORY_ONLY format); the directory graph below them is referenced too.
   */
  readonly rootDirectories: Digest[];
}

function toDigest(m: DigestMsg | undefined | null): Digest | undefined {
  if (!m || !m.hash) return undefined;
  const size =
    typeof m.sizeBytes === 'object' && m.sizeBytes !== null ? m.sizeBytes.toNumber() : Number(m.sizeBytes ?? 0);
  return { hash: m.hash, sizeBytes: size };
}

/** Throws InvalidArgument when `bytes` is not a well-formed ActionResult. */
export function decodeActionResult(bytes: Uint8Array): ActionResultMsg {
  try {
    return protoType(`${REAPI}.ActionResult`).decode(bytes) as unknown as ActionResultMsg;
  } catch (err) {
    throw new HoardError(ErrorCode.InvalidArgument, `not a valid ActionResult message: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function actionResultRefs(bytes: Uint8Array): ActionResultRefs {
  const ar = decodeActionResult(bytes);
  const files: Digest[] = [];
  const trees: Digest[] = [];
  const rootDirectories: Digest[] = [];
  for (const f of ar.outputFiles ?? []) {
    const d = toDigest(f.digest);
    if (d) files.push(d);
  }
  for (const dir of ar.outputDirectories ?? []) {
    const tree = toDigest(dir.treeDigest);
    const root = toDigest(dir.rootDirectoryDigest);
    if (tree) trees.push(tree);
    else if (root) rootDirectories.push(root);
  }
  for (const d of [toDigest(ar.stdoutDigest), toDigest(ar.stderrDigest)]) if (d) files.push(d);
  return { files, trees, rootDirectories };
}

/** File digests listed anywhere in an encoded Tree. */
export function treeFileRefs(bytes: Uint8Array): Digest[] {
  let tree: TreeMsg;
  try {
    tree = protoType(`${REAPI}.Tree`).decode(bytes) as unknown as TreeMsg;
  } catch (err) {
    throw new HoardError(ErrorCode.Corrupt, `stored Tree does not decode: ${(err as Error).message}`, { cause: err });
  }
  const out: Digest[] = [];
  for (const dir of [tree.root ?? {}, ...(tree.children ?? [])]) {
    for (const f of dir.files ?? []) {
      const d = toDigest(f.digest);
      if (d) out.push(d);
    }
  }
  return out;
}

/** Files and child directories of one encoded Directory. */
export function directoryRefs(bytes: Uint8Array): { files: Digest[]; directories: Digest[] } {
  let dir: DirectoryMsg;
  try {
    dir = protoType(`${REAPI}.Directory`).decode(bytes) as unknown as DirectoryMsg;
  } catch (err) {
    throw new HoardError(ErrorCode.Corrupt, `stored Directory does not decode: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const files = (dir.files ?? []).map((f) => toDigest(f.digest)).filter((d): d is Digest => d !== undefined);
  const directories = (dir.directories ?? [])
    .map((f) => toDigest(f.digest))
    .filter((d): d is Digest => d !== undefined);
  return { files, directories };
}
