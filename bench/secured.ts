// What TLS and access control cost (issue 17): hoard plain, hoard behind TLS taking a bearer
// token (--access-file), hoard behind TLS taking Basic credentials (--htpasswd-file, bcrypt),
// and with --bazel-remote PATH bazel-remote plain and behind TLS taking Basic credentials
// (--tls_cert_file, --htpasswd_file, the same bcrypt file), side by side in one run. All
// servers start at once and are measured workload by workload, one after the other, so a
// row's figures are close in time: 4 KiB GETs over keep-alive connections and distinct
// 4 KiB PUTs (wrk, over https with an Authorization header), then 128 KiB ByteStream Writes
// (the lean node:http2 gRPC client over TLS, trusting the run's CA, credentials as
// `authorization` metadata, or for bazel-remote as user info in `:authority`). Before
// anything is measured, each secured server must refuse a call without credentials (HTTP
// 401, gRPC UNAUTHENTICATED) and take one with them; one that does not is left out, so a
// misconfigured run cannot report a fast "secured" figure.
//
//   ./node_modules/.bin/node bench/secured.ts [--seconds 10] [--bs-count 10000] [--bazel-remote PATH] [--quick]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measure, warn } from './lib/measure.ts';
import { hoardArgsOption, numberOption, runScript, usageLine } from './lib/args.ts';
import { blobFamily, type BlobFamily } from './lib/blobs.ts';
import { CallError, type H2Access, H2BenchClient } from './lib/grpc-h2-load.ts';
import type { Digest } from './lib/grpc-load.ts';
import { type HttpAccess, httpRequest, keepAliveAgent, prefill } from './lib/http-load.ts';
import { BENCH_USER, makeSecureFixture, missingTools, type SecureFixture } from './lib/secure-fixture.ts';
import { formatSize, newSection, ratioGoal, renderSection, type Section } from './lib/section.ts';
import { type SecuredSetup, spreadNote, startBazelRemote, startHoard, type Target } from './lib/targets.ts';
import { HOARD, securedName } from './lib/target-names.ts';
import { getScript, putScript, runWrk, wrkBinary, writeHashFile } from './lib/wrk.ts';
import { status } from '@grpc/grpc-js';

export interface SecuredBenchOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly wrkThreads: number;
  readonly smallSize: number;
  readonly getBlobs: number;
  readonly bsCount: number;
  readonly bsSize: number;
  readonly bsConcurrency: number;
  /** The gRPC client's HTTP/2 receive window (bytes); 1 MiB like Bazel's grpc-java. */
  readonly window: number;
  readonly bazelRemote?: string;
  /** Extra arguments for every `hoard serve`, plain and secured. */
  readonly hoardArgs: readonly string[];
}

export const SECURED_DEFAULTS: SecuredBenchOptions = {
  seconds: 10,
  connections: 32,
  wrkThreads: 2,
  smallSize: 4096,
  getBlobs: 2000,
  bsCount: 10_000,
  bsSize: 128 * 1024,
  bsConcurrency: 32,
  window: 2 ** 20,
  hoardArgs: [],
};

export const SECURED_QUICK: Partial<SecuredBenchOptions> = { seconds: 1, getBlobs: 50, bsCount: 200 };

const TOKEN = securedName(HOARD, 'token');
const BASIC = securedName(HOARD, 'Basic');
const PEER = 'bazel-remote';
const PEER_BASIC = securedName(PEER, 'Basic');

/** The most a secured hoard may lose to TLS and access control: it keeps ≥ 75% of its plain rate. */
const SECURED_SHARE = 0.75;

/** How clients reach a server: the CA to trust and the credentials to send; none for a plain one. */
export interface Reach {
  readonly http: HttpAccess;
  readonly grpc: H2Access;
}

/** A server to start, and how its clients reach it. */
interface Setup extends Reach {
  readonly start: () => Promise<Target>;
}

interface Running {
  readonly target: Target;
  readonly setup: Setup;
}

function setupsFor(o: SecuredBenchOptions, fx: SecureFixture | undefined): Setup[] {
  const hoard = (secured?: SecuredSetup) => () => startHoard({ extraArgs: o.hoardArgs, secured });
  const tls = fx && { certFile: fx.certFile, keyFile: fx.keyFile };
  const setups: Setup[] = [{ start: hoard(), http: {}, grpc: {} }];
  if (fx && tls) {
    const token = { ca: fx.ca, authorization: fx.bearer };
    const basic = { ca: fx.ca, authorization: fx.basic };
    setups.push(
      { start: hoard({ ...tls, by: 'token', credentialsFile: fx.accessFile }), http: token, grpc: token },
      { start: hoard({ ...tls, by: 'Basic', credentialsFile: fx.htpasswdFile }), http: basic, grpc: basic },
    );
  }
  const bin = o.bazelRemote;
  if (bin) {
    setups.push({ start: () => startBazelRemote(bin), http: {}, grpc: {} });
    if (fx && tls)
      setups.push({
        start: () => startBazelRemote(bin, { secured: { ...tls, by: 'Basic', credentialsFile: fx.htpasswdFile } }),
        http: { ca: fx.ca, authorization: fx.basic },
        // bazel-remote's gRPC Basic auth reads `:authority`, and refuses `authorization` metadata.
        grpc: { ca: fx.ca, userInfo: `${BENCH_USER}:${fx.password}` },
      });
  }
  return setups;
}

export async function runSecuredBench(
  o: SecuredBenchOptions,
  log: (line: string) => void = console.error,
): Promise<Section> {
  const small = formatSize(o.smallSize);
  const w = {
    get: `${small} GET (${o.connections} keep-alive conn)`,
    put: `${small} PUT distinct (${o.connections} keep-alive conn)`,
    write: `ByteStream Write ${formatSize(o.bsSize)}, ${o.bsConcurrency} streams`,
  };
  const s = newSection('TLS and access control (Bazel HTTP, REAPI ByteStream)');
  const wrk = wrkBinary() !== undefined;
  if (!wrk) s.notes.push(`wrk not installed: the ${small} GET and PUT figures skipped (apt-get install -y wrk)`);
  const missing = await missingTools();
  if (missing.length) s.notes.push(`secured servers not run, missing: ${missing.join(', ')}`);
  const fixture = missing.length ? undefined : await makeSecureFixture();
  const putCount = Math.max(1000, Math.ceil(40_000 * o.seconds));
  const smallFamily = blobFamily(o.smallSize);
  const bigFamily = blobFamily(o.bsSize);
  const hashDir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-hashes-'));
  const hashFile = path.join(hashDir, 'put-hashes.txt');
  const running: Running[] = [];
  try {
    for (const setup of setupsFor(o, fixture)) {
      try {
        const target = await setup.start();
        running.push({ target, setup });
        log(`secured: ${target.describe}`);
        // The fixture's files by their names: the temporary directory says nothing.
        const describe = fixture ? target.describe.replaceAll(`${fixture.dir}${path.sep}`, '') : target.describe;
        s.notes.push(`${target.name}: ${describe}`);
      } catch (err) {
        s.notes.push(`a server did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
        log(`secured: start failed: ${(err as Error).message}`);
      }
    }
    const measured: Running[] = [];
    for (const r of running) {
      const problem = r.setup.http.ca ? await refusalProblem(r.target, r.setup, o.window) : undefined;
      if (problem) {
        s.notes.push(`${r.target.name}: NOT MEASURED: ${problem}`);
        log(`secured: ${r.target.name} not measured: ${problem}`);
      } else measured.push(r);
    }
    // Each workload against every server in turn, so a row's figures are close in time.
    const each = async (what: string, task: (r: Running) => Promise<void>) => {
      for (const r of measured) {
        try {
          await task(r);
        } catch (err) {
          s.notes.push(`${r.target.name}: ${what} failed: ${(err as Error).message.split('\n')[0]}`);
          log(`secured: ${r.target.name} ${what} failed: ${(err as Error).stack ?? String(err)}`);
        }
      }
    };
    if (wrk) {
      await writeHashFile(smallFamily, putCount, hashFile);
      // GET set: blobs putCount.. of the small family (the PUTs send 0..putCount-1).
      const paths = Array.from({ length: o.getBlobs }, (_, i) => `/cas/${smallFamily.hash(putCount + i)}`);
      await each('prefill', (r) =>
        prefill(r.target.httpUrl as string, smallFamily, putCount, o.getBlobs, 16, r.setup.http),
      );
      await each(w.get, (r) => benchWrk(r, o, s, w.get, getScript(paths), log));
      const put = putScript(smallFamily, '/cas/', hashFile, putCount, o.wrkThreads);
      await each(w.put, (r) => benchWrk(r, o, s, w.put, put, log, putCount));
    }
    await each(w.write, (r) => benchWrite(r, o, s, w.write, bigFamily, log));
  } finally {
    for (const r of running) await r.target.stop();
    await fixture?.dispose();
    await rm(hashDir, { recursive: true, force: true });
  }
  judge(s, w, o);
  return s;
}

/**
 * Why a secured server must not be measured, or undefined when it refuses a call without
 * credentials and takes one with them, over HTTPS and over gRPC with TLS (both clients
 * verify its certificate against `reach`'s CA, so a server without TLS fails here too).
 * `window`: the gRPC client's receive window.
 */
async function refusalProblem(target: Target, reach: Reach, window: number): Promise<string | undefined> {
  const probe = randomBytes(32).toString('hex');
  const url = `${target.httpUrl}/cas/${probe}`;
  if (!url.startsWith('https:')) return `its HTTP listener is not TLS (${target.httpUrl})`;
  const agent = keepAliveAgent(1, url, reach.http);
  try {
    const anonymous = await httpRequest(agent, url, 'GET');
    if (anonymous.status !== 401) return `a GET without credentials was answered ${anonymous.status}, not 401`;
    const known = await httpRequest(agent, url, 'GET', undefined, reach.http.authorization);
    if (known.status !== 404) return `a GET of a missing blob with credentials was answered ${known.status}, not 404`;
  } catch (err) {
    return `HTTPS: ${(err as Error).message}`;
  } finally {
    agent.destroy();
  }
  const request = H2BenchClient.findMissingRequest([{ hash: probe, sizeBytes: 4096 }]);
  const grpcTarget = target.grpcTarget as string;
  const anonymous = new H2BenchClient(grpcTarget, 1, window, { ca: reach.grpc.ca });
  try {
    await anonymous.findMissing(request);
    return 'a gRPC FindMissingBlobs without credentials succeeded';
  } catch (err) {
    if (!(err instanceof CallError) || err.code !== status.UNAUTHENTICATED)
      return `a gRPC call without credentials failed otherwise than UNAUTHENTICATED: ${(err as Error).message}`;
  } finally {
    anonymous.close();
  }
  const known = new H2BenchClient(grpcTarget, 1, window, reach.grpc);
  try {
    const missing = await known.findMissing(request);
    if (missing !== 1) return `a gRPC FindMissingBlobs with credentials found ${missing} of 1 missing`;
  } catch (err) {
    return `a gRPC call with credentials failed: ${(err as Error).message}`;
  } finally {
    known.close();
  }
  return undefined;
}

/** One wrk run of `script`; `distinct` is how many distinct bodies a PUT script holds. */
async function benchWrk(
  r: Running,
  o: SecuredBenchOptions,
  s: Section,
  workload: string,
  script: string,
  log: (line: string) => void,
  distinct?: number,
): Promise<void> {
  const auth = r.setup.http.authorization;
  const m = await runWrk({
    url: r.target.httpUrl as string,
    script,
    seconds: o.seconds,
    connections: o.connections,
    threads: o.wrkThreads,
    serverPids: r.target.pids,
    headers: auth ? [`Authorization: ${auth}`] : [],
  });
  const repeated = distinct !== undefined && m.requests > distinct;
  s.rows.push({
    workload,
    target: r.target.name,
    value: m.perSecond,
    unit: 'req/s',
    cpu: m.cpu,
    detail: `p50 ${m.p50ms.toFixed(2)} ms, p95 ${m.p95ms.toFixed(2)} ms, ${m.requests} reqs`,
    warning: m.errors
      ? `${m.errors} errors/non-2xx`
      : repeated
        ? `more requests than ${distinct} distinct bodies`
        : undefined,
  });
  log(`secured: ${r.target.name} ${workload}: ${Math.round(m.perSecond)} req/s`);
}

/** ByteStream Writes of bsCount distinct blobs, bsConcurrency in flight over one HTTP/2 connection. */
async function benchWrite(
  r: Running,
  o: SecuredBenchOptions,
  s: Section,
  workload: string,
  family: BlobFamily,
  log: (line: string) => void,
): Promise<void> {
  const client = new H2BenchClient(r.target.grpcTarget as string, 1, o.window, r.setup.grpc);
  try {
    const digests: Digest[] = Array.from({ length: o.bsCount }, (_, i) => ({
      hash: family.hash(i),
      sizeBytes: o.bsSize,
    }));
    // A worker has one call in flight, and the client sends its buffer without a copy until the call ends.
    const buffers = Array.from({ length: o.bsConcurrency }, () => family.bytes(0));
    const m = await measure(o.bsCount, o.bsConcurrency, r.target.pids, async (i, worker) => {
      const data = family.fill(buffers[worker] as Buffer, i);
      return (await client.write(digests[i] as Digest, data)) === o.bsSize;
    });
    s.rows.push({
      workload,
      target: r.target.name,
      value: m.perSecond,
      unit: 'writes/s',
      cpu: m.cpu,
      detail: `${((m.perSecond * o.bsSize) / 1e6).toFixed(0)} MB/s, p50 ${m.p50.toFixed(1)} ms, p95 ${m.p95.toFixed(1)} ms`,
      warning: warn(m),
    });
    log(`secured: ${r.target.name} ${workload}: ${Math.round(m.perSecond)} writes/s`);
  } finally {
    client.close();
  }
}

/** The goals, the Markdown's ratio columns and the notes. */
function judge(s: Section, w: Record<'get' | 'put' | 'write', string>, o: SecuredBenchOptions): void {
  for (const workload of [w.get, w.put, w.write]) {
    // What TLS and access control cost hoard: each secured setup against hoard plain.
    ratioGoal(s, workload, HOARD, SECURED_SHARE, '', [TOKEN, BASIC]);
    // And against the peer in the same setup (bazel-remote takes no bearer tokens).
    ratioGoal(s, workload, PEER_BASIC, 1, 'give --bazel-remote PATH', [BASIC]);
  }
  s.ratios = [
    { h: TOKEN, below: HOARD },
    { h: BASIC, below: HOARD },
    { h: PEER_BASIC, below: PEER },
    { h: HOARD, below: PEER },
    { h: BASIC, below: PEER_BASIC },
  ];
  s.notes.push(
    `Credentials: wrk sends an Authorization header (-H) on every request; the gRPC client sends \`authorization\` metadata to hoard and \`${BENCH_USER}:<password>@host:port\` as \`:authority\` to bazel-remote (its gRPC Basic auth reads only that). One bcrypt user (\`htpasswd -nbB\`, cost 5) in one htpasswd file for both servers; one read/write token in hoard's access file.`,
    'TLS: a P-256 server certificate for 127.0.0.1 from a CA made for the run (openssl). wrk speaks TLS without verifying the certificate; the Node clients (prefill, checks, gRPC) verify it against the CA. All connections are kept alive for a whole run: handshakes are once per connection, so the figures are the per-request cost of TLS and credentials.',
    'Before measuring, every secured server refused a GET and a gRPC FindMissingBlobs without credentials (401, UNAUTHENTICATED) and answered them with credentials; a server that did not is marked NOT MEASURED above.',
    `Order: all servers ran at once, idle but for the one measured; each workload ran against every server in turn (the ${formatSize(o.smallSize)} GETs, then the PUTs, then the Writes).`,
  );
  const spread = spreadNote(
    [`${o.connections} for the ${formatSize(o.smallSize)} GETs and PUTs (wrk)`, '1 for the gRPC Writes'],
    undefined,
    o.hoardArgs,
  );
  if (spread) s.notes.push(spread);
  s.notes.push(
    'MB = 10^6 bytes. CPU shares are of the whole machine (all cores = 100%): gen = load generator, srv = server, other = everything else running meanwhile.',
  );
}

export const SECURED_OPTIONS = {
  seconds: { type: 'string' },
  connections: { type: 'string' },
  'wrk-threads': { type: 'string' },
  'get-blobs': { type: 'string' },
  'bs-count': { type: 'string' },
  'bs-concurrency': { type: 'string' },
  'bazel-remote': { type: 'string' },
  'hoard-arg': { type: 'string', multiple: true },
  quick: { type: 'boolean' },
} as const;

export function parseSecuredArgs(argv: readonly string[]): SecuredBenchOptions {
  const { values } = parseArgs({ args: [...argv], options: SECURED_OPTIONS, strict: false });
  const base = { ...SECURED_DEFAULTS, ...(values.quick ? SECURED_QUICK : {}) };
  const num = (name: keyof typeof SECURED_OPTIONS, fallback: number) => numberOption(name, values[name], fallback);
  return {
    ...base,
    seconds: num('seconds', base.seconds),
    connections: num('connections', base.connections),
    wrkThreads: num('wrk-threads', base.wrkThreads),
    getBlobs: num('get-blobs', base.getBlobs),
    bsCount: num('bs-count', base.bsCount),
    bsConcurrency: num('bs-concurrency', base.bsConcurrency),
    bazelRemote: typeof values['bazel-remote'] === 'string' ? values['bazel-remote'] : undefined,
    hoardArgs: hoardArgsOption(values['hoard-arg'], undefined),
  };
}

const d = SECURED_DEFAULTS;
/** The options of this script, as --help prints them (bench/run.ts prints them too). */
export const SECURED_OPTIONS_HELP =
  usageLine('--seconds N', `length of each wrk run (default ${d.seconds})`) +
  usageLine(
    '--connections N',
    `wrk keep-alive connections for the ${formatSize(d.smallSize)} GETs and PUTs (default ${d.connections})`,
  ) +
  usageLine('--wrk-threads N', `wrk threads (default ${d.wrkThreads})`) +
  usageLine('--get-blobs N', `distinct blobs the GETs cycle through (default ${d.getBlobs})`) +
  usageLine('--bs-count N', `ByteStream Writes of ${formatSize(d.bsSize)} per server (default ${d.bsCount})`) +
  usageLine('--bs-concurrency N', `ByteStream streams in flight (default ${d.bsConcurrency})`) +
  usageLine(
    '--bazel-remote PATH',
    'also measure this bazel-remote binary, plain and with --tls_cert_file --htpasswd_file, side by side',
  ) +
  usageLine(
    '--hoard-arg ARG',
    'an extra argument for every `hoard serve` (repeatable); --workers LIST is for http and grpc only, the hoards here run with the default worker count',
  ) +
  usageLine(
    '--quick',
    `a short run (${SECURED_QUICK.seconds} s per wrk run, ${SECURED_QUICK.bsCount} Writes per server)`,
  );

export const SECURED_USAGE = `Usage: ./node_modules/.bin/node bench/secured.ts [options]

What TLS and access control cost: hoard plain, behind TLS with a bearer token and behind TLS
with Basic credentials (bcrypt htpasswd), and with --bazel-remote bazel-remote plain and
behind TLS with Basic, side by side in one run: ${formatSize(d.smallSize)} GETs and PUTs by wrk over
keep-alive connections, ${formatSize(d.bsSize)} ByteStream Writes by a node:http2 gRPC client. Needs
openssl and htpasswd (apache2-utils) for the secured servers, wrk for the GETs and PUTs.

Options:
${SECURED_OPTIONS_HELP}  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, SECURED_USAGE, [SECURED_OPTIONS], async () => {
    const options = parseSecuredArgs(argv);
    process.stdout.write(renderSection(await runSecuredBench(options)));
  });
}
