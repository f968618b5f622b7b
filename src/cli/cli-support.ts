// What the client commands of the CLI (put, get, stat, bench, check) share: the flags that
// build a CacheClient (server, credentials, TLS, timeouts), digest argument parsing, and
// terminal progress bars that appear only on a TTY and only for transfers that take longer
// than a second.
//
// Credentials are taken here, once for every command: --token (or HOARD_TOKEN, which `ps`
// does not show; the flag wins), user:password in --server, and a client certificate
// (--tls-cert-file, --tls-key-file). The user info is split off the URL at once: commands
// print and pass on only the URL without it, and the password travels in ClientOptions.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { checkDigest, formatDigest, type Digest } from '../core/digest.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { createClient, serverUrl } from '../client/create-client.ts';
import { userinfoOf, withoutUserinfo } from '../client/client-credentials.ts';
import type { CacheClient, ClientEvent, ClientOptions, Progress } from '../client/types.ts';

export interface ClientFlags {
  server: string;
  header?: string[];
  instanceName?: string;
  timeout?: string;
  retries?: string;
  token?: string;
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  grpcAuthorityCredentials?: boolean;
  verbose?: boolean;
}

const CREDENTIALS_HELP = `
Credentials (for a server started with --htpasswd-file, --access-file, --jwt-jwks-file or --tls-ca-file):
  --server https://USER:PASSWORD@host/prefix   Basic (percent-encode reserved characters, e.g. @ as %40)
  --token TOKEN, or HOARD_TOKEN=TOKEN          Bearer: an access-file token (hoard token create) or a JWT;
                                               the environment variable keeps it out of \`ps\`; the flag wins
  --tls-cert-file FILE --tls-key-file FILE     a client certificate (mTLS), for https:// and grpcs://
A token is sent instead of the URL's user:password when both are given. Passwords and tokens are never printed.`;

export function addClientFlags(cmd: Command): Command {
  return cmd
    .requiredOption(
      '-s, --server <url>',
      'the cache: http[s]://[user:password@]host:port[/prefix] or grpc[s]://[user:password@]host:port',
    )
    .option('-H, --header <name=value...>', 'extra request header / gRPC metadata (repeatable)')
    .option('--instance-name <name>', 'REAPI instance name (gRPC)')
    .addOption(
      new Option('--token <token>', 'bearer token (access-file token or JWT); wins over user:password in --server').env(
        'HOARD_TOKEN',
      ),
    )
    .option('--tls-ca-file <path>', 'PEM certificates to trust for https:// and grpcs:// instead of the system ones')
    .option('--tls-cert-file <path>', 'PEM client certificate (mTLS) for https:// and grpcs://; with --tls-key-file')
    .option('--tls-key-file <path>', 'the PEM private key of --tls-cert-file')
    .option(
      '--grpc-authority-credentials',
      "gRPC: send --server's user:password in :authority, as Bazel does (bazel-remote reads them only there)",
    )
    .addOption(new Option('--timeout <ms>', 'fail a transfer that makes no progress for this long').default('60000'))
    .addOption(new Option('--retries <n>', 'retries of safe operations on transient failures').default('5'))
    .option('-v, --verbose', 'log reconnects and retries to stderr')
    .addHelpText('after', CREDENTIALS_HELP);
}

export interface ClientTarget {
  /** --server without user info: the one to print and to pass on. */
  readonly server: string;
  /** Everything else the flags ask for, the URL's user:password (as `basic`) included. */
  readonly options: ClientOptions;
}

/**
 * What the flags ask for; checks --server (scheme included) and reads the certificate
 * files. Call inside parseUsage: a mistake is a usage error, and its message names no secret.
 */
export function clientTarget(flags: ClientFlags, extra: ClientOptions = {}): ClientTarget {
  const url = serverUrl(flags.server);
  const headers: Record<string, string> = {};
  for (const h of flags.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) {
      // Only what looks like the name: `-H "Authorization: Bearer ..."` would print a secret.
      const name = h.split(/[:\s]/)[0] ?? '';
      throw new HoardError(ErrorCode.InvalidArgument, `--header ${JSON.stringify(name)}...: expected name=value`);
    }
    headers[h.slice(0, eq).trim().toLowerCase()] = h.slice(eq + 1);
  }
  if ((flags.tlsCertFile === undefined) !== (flags.tlsKeyFile === undefined))
    throw new HoardError(ErrorCode.InvalidArgument, '--tls-cert-file and --tls-key-file go together: give both');
  const onEvent = flags.verbose ? (e: ClientEvent) => process.stderr.write(`hoard: ${describeEvent(e)}\n`) : undefined;
  const options: ClientOptions = {
    headers,
    // HOARD_TOKEN= (empty) means no token, so a script can unset it for one command.
    token: flags.token === '' ? undefined : flags.token,
    basic: userinfoOf(url),
    ca: readPem(flags.tlsCaFile, '--tls-ca-file'),
    cert: readPem(flags.tlsCertFile, '--tls-cert-file'),
    key: readPem(flags.tlsKeyFile, '--tls-key-file'),
    instanceName: flags.instanceName,
    grpcAuthorityCredentials: flags.grpcAuthorityCredentials,
    idleTimeoutMs: positiveInt(flags.timeout ?? '60000', '--timeout'),
    retry: { retries: nonNegativeInt(flags.retries ?? '5', '--retries') },
    onEvent,
    ...extra,
  };
  return { server: withoutUserinfo(flags.server), options };
}

/** The client the flags ask for (clientTarget, then createClient, which checks the credentials). */
export function openClient(flags: ClientFlags, extra: ClientOptions = {}): CacheClient {
  const { server, options } = clientTarget(flags, extra);
  return createClient(server, options);
}

function readPem(file: string | undefined, flag: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export function describeEvent(e: ClientEvent): string {
  switch (e.type) {
    case 'connect':
      return `${e.reconnect ? 'reconnected' : 'connected'} to ${e.server}`;
    case 'disconnect':
      return `connection to ${e.server} closed (${e.reason})`;
    case 'retry':
      return `retrying ${e.operation} on ${e.server} in ${e.delayMs} ms (attempt ${e.attempt}): ${e.reason}`;
    case 'reconnected':
      return `${e.operation} succeeded on a new connection to ${e.server} after: ${e.after}`;
    case 'resume':
      return `resuming ${e.operation} on ${e.server} at byte ${e.offset}`;
  }
}

export function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new HoardError(ErrorCode.InvalidArgument, `${flag} ${JSON.stringify(v)}: expected a positive integer`);
  return n;
}

export function nonNegativeInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new HoardError(ErrorCode.InvalidArgument, `${flag} ${JSON.stringify(v)}: expected a non-negative integer`);
  return n;
}

/** Parses HASH/SIZE (or HASH-SIZE); throws InvalidArgument with a usable message. */
export function parseDigestArg(arg: string): Digest {
  const m = /^([0-9a-fA-F]+)[/-](\d+)$/.exec(arg.trim());
  if (!m)
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `digest ${JSON.stringify(arg)}: expected HASH/SIZE, e.g. e3b0c442...b855/0`,
    );
  const d = { hash: (m[1] as string).toLowerCase(), sizeBytes: Number(m[2]) };
  checkDigest(d);
  return d;
}

/**
 * Progress bars on stderr: a bar appears for a transfer once it has run for a second, and
 * never when stderr is not a terminal (scripts and logs stay clean).
 */
export class TransferBars {
  readonly #enabled: boolean;
  readonly #bars = new Map<string, { started: number; bar?: cliProgress.SingleBar }>();
  #multi: cliProgress.MultiBar | undefined;

  constructor(enabled = process.stderr.isTTY === true) {
    this.#enabled = enabled;
  }

  /** Pass as a call's onProgress. */
  readonly onProgress = (p: Progress): void => {
    if (!this.#enabled) return;
    const key = `${p.operation} ${formatDigest(p.digest)}`;
    let entry = this.#bars.get(key);
    if (!entry) this.#bars.set(key, (entry = { started: Date.now() }));
    if (!entry.bar && Date.now() - entry.started < 1000) return;
    if (!entry.bar) {
      this.#multi ??= new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: ' {label} [{bar}] {percentage}% {value}/{total} bytes',
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      entry.bar = this.#multi.create(p.total, p.bytes, { label: `${p.operation} ${p.digest.hash.slice(0, 12)}` });
    }
    entry.bar.update(p.bytes);
  };

  stop(): void {
    this.#multi?.stop();
  }
}

/**
 * Runs a command's parsing of flags and arguments, and the creation of its client, as the
 * usage-error path: whatever it throws exits 2 with the message, before any request is made.
 */
export async function parseUsage<T>(cmd: Command, parse: () => T | Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (err) {
    usageError(cmd, err);
  }
}

function usageError(cmd: Command, err: unknown): never {
  cmd.error(`error: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 2, code: 'hoard.usage' });
}
