// Reads what Bazel says it did: the process summary line and the JSON execution log. Hit
// counts are the only proof a remote cache works, because Bazel quietly builds everything
// locally when the cache is broken or unreachable and still reports success.

/** `INFO: 20 processes: 15 remote cache hit, 5 internal.` as numbers per runner. */
export interface ProcessSummary {
  readonly total: number;
  /** Runner name → process count, e.g. {'remote cache hit': 15, internal: 5}. */
  readonly byRunner: ReadonlyMap<string, number>;
  readonly remoteCacheHits: number;
  readonly internal: number;
  /** Everything that is neither a remote cache hit nor internal (executed locally). */
  readonly executed: number;
}

const SUMMARY_LINE = /^INFO: (\d+) process(?:es)?(?:: (.*?))?\.?\s*$/gm;

/**
 * Parses the last process summary line of a Bazel 4.x build output. Throws when there is none
 * or when the per-runner counts do not add up to the total (a format we do not understand).
 */
export function parseProcessSummary(output: string): ProcessSummary {
  let last: RegExpExecArray | undefined;
  for (const m of output.matchAll(SUMMARY_LINE)) last = m;
  if (last === undefined) throw new Error('no "INFO: N processes: ..." line in the Bazel output');
  const total = Number(last[1]);
  const byRunner = new Map<string, number>();
  for (const part of (last[2] ?? '').split(',')) {
    const p = /^\s*(\d+)\s+(.+?)\s*$/.exec(part);
    if (p === null) continue;
    const runner = p[2] as string;
    byRunner.set(runner, (byRunner.get(runner) ?? 0) + Number(p[1]));
  }
  const sum = [...byRunner.values()].reduce((a, b) => a + b, 0);
  if (sum !== total) throw new Error(`process summary does not add up (${sum} != ${total}): ${last[0]}`);
  const remoteCacheHits = byRunner.get('remote cache hit') ?? 0;
  const internal = byRunner.get('internal') ?? 0;
  return { total, byRunner, remoteCacheHits, internal, executed: total - remoteCacheHits - internal };
}

/** One spawn of the execution log (`--execution_log_json_file`), the fields we use. */
export interface LoggedSpawn {
  readonly mnemonic: string;
  readonly progressMessage: string;
  readonly runner: string;
  readonly remoteCacheHit: boolean;
  readonly remoteCacheable: boolean;
  readonly exitCode: number;
  readonly listedOutputs: readonly string[];
  readonly outputs: readonly { path: string; hash?: string }[];
}

/**
 * Bazel 4 writes the JSON execution log as concatenated, pretty-printed objects (not an array
 * and not one per line), so split it on top-level braces outside strings.
 */
export function parseExecutionLog(text: string): LoggedSpawn[] {
  const spawns: LoggedSpawn[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) {
      spawns.push(toSpawn(JSON.parse(text.slice(start, i + 1)) as RawSpawn));
    }
  }
  if (depth !== 0) throw new Error('execution log ends inside an object (truncated?)');
  return spawns;
}

interface RawSpawn {
  mnemonic?: string;
  progressMessage?: string;
  runner?: string;
  remoteCacheHit?: boolean;
  remoteCacheable?: boolean;
  exitCode?: number;
  listedOutputs?: string[];
  actualOutputs?: { path: string; digest?: { hash?: string } }[];
}

function toSpawn(raw: RawSpawn): LoggedSpawn {
  return {
    mnemonic: raw.mnemonic ?? '',
    progressMessage: raw.progressMessage ?? '',
    runner: raw.runner ?? '',
    remoteCacheHit: raw.remoteCacheHit === true,
    remoteCacheable: raw.remoteCacheable === true,
    exitCode: raw.exitCode ?? 0,
    listedOutputs: raw.listedOutputs ?? [],
    outputs: (raw.actualOutputs ?? []).map((o) => ({ path: o.path, hash: o.digest?.hash })),
  };
}
