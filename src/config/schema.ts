// The one schema of `hoard serve`'s configuration. Every option has a camelCase key here,
// a `--kebab-case` flag, a `kebab-case` (or snake_case/camelCase) config-file key and a
// `HOARD_UPPER_SNAKE` environment variable; all four are derived from the key, so adding
// an option is one line in the schema and one in DOCS (a missing doc does not compile).
// Names follow bazel-remote where it has one (dir, max size, http/grpc address).
import { z } from 'zod';
import {
  parseAddress,
  parseDuration,
  parseMount,
  parseNamespaceFallbacks,
  parseNamespaceQuotas,
  parseSize,
  parseStatusPage,
  parseSwitch,
  parseWorkers,
  type ListenAddress,
} from './units.ts';

/**
 * Wraps a units parser as a zod transform whose failure message is the parser's. Values are
 * text, numbers or switches, unless `anyShape` (a config file's mapping or list too).
 */
function parsed<T>(parse: (v: unknown) => T, anyShape = false) {
  const input = anyShape ? z.unknown() : z.union([z.string(), z.number(), z.boolean()]);
  return input.transform((v, ctx): T => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => `${JSON.stringify(iss.input)} is not one of ${values.join(', ')}` });
}

const size = parsed(parseSize);
const duration = parsed(parseDuration);
const onOff = parsed(parseSwitch);
const address = parsed(parseAddress);
const workers = parsed(parseWorkers);
/** '' (or 'off') leaves the protocol unmounted. */
const mount = parsed(parseMount);
/** '' (or 'off') disables the listener. */
const optionalAddress = parsed((v): ListenAddress | undefined =>
  v === '' || v === 'off' || v === false ? undefined : parseAddress(v),
);
const prefixList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (typeof v === 'string' ? v.split(',') : v).map((p) => p.trim().replace(/^\/+|\/+$/g, '')).filter((p) => p !== ''),
  );

export const configSchema = z.strictObject({
  dir: z.string().min(1, 'must not be empty').prefault('./hoard-data'),
  maxSize: size.prefault('10GiB'),
  httpAddress: address.prefault('127.0.0.1:8080'),
  grpcAddress: optionalAddress.prefault('127.0.0.1:9092'),
  workers: workers.prefault('auto'),
  tlsCertFile: z.string().prefault(''),
  tlsKeyFile: z.string().prefault(''),
  tlsCaFile: z.string().prefault(''),
  tlsClientAuth: oneOf(['require', 'optional']).prefault('require'),
  htpasswdFile: z.string().prefault(''),
  accessFile: z.string().prefault(''),
  jwtJwksFile: z.string().prefault(''),
  jwtIssuer: z.string().prefault(''),
  jwtAudience: z.string().prefault(''),
  jwtNamespacesClaim: z.string().min(1, 'must not be empty').prefault('namespaces'),
  allowUnauthenticatedReads: onOff.prefault('off'),
  publicMetrics: onOff.prefault('off'),
  namespaceFallback: parsed(parseNamespaceFallbacks, true).prefault(''),
  namespaceQuota: parsed(parseNamespaceQuotas, true).prefault(''),
  logLevel: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).prefault('info'),
  logFormat: oneOf(['json', 'pretty']).prefault('json'),
  accessLog: onOff.prefault('on'),
  durability: oneOf(['fsync', 'none']).prefault('fsync'),
  httpPrefix: oneOf(['namespace', 'ignore']).prefault('namespace'),
  acMode: oneOf(['validate', 'raw']).prefault('validate'),
  rawAcPrefixes: prefixList.prefault([]),
  acCompleteness: onOff.prefault('on'),
  drainTimeout: duration.prefault('30s'),
  keepAliveTimeout: duration.prefault('120s'),
  headersTimeout: duration.prefault('30s'),
  bodyIdleTimeout: duration.prefault('60s'),
  maxBlobSize: size.prefault(0),
  debugCloseConnections: onOff.prefault('off'),
  turborepoMount: mount.prefault('/v8'),
  nxMount: mount.prefault('/v1/cache'),
  gradleMount: mount.prefault('/gradle'),
  sccacheMount: mount.prefault('/sccache'),
  statusPage: parsed(parseStatusPage).prefault('/'),
  s3Bucket: z.string().prefault(''),
  s3Endpoint: z.string().prefault(''),
  s3Region: z.string().min(1, 'must not be empty').prefault('us-east-1'),
  s3Prefix: z.string().prefault(''),
  s3PathStyle: onOff.prefault('off'),
  s3Write: oneOf(['behind', 'through']).prefault('behind'),
  s3RefreshAfter: duration.prefault('24h'),
  s3AccessKeyId: z.string().prefault(''),
  s3SecretAccessKey: z.string().prefault(''),
});

/** The validated, frozen configuration handed down from `hoard serve` to every layer. */
export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigKey = keyof z.input<typeof configSchema>;

export interface OptionDoc {
  readonly key: ConfigKey;
  /** Placeholder for the flag's value; undefined for a bare switch (`--flag` = on). */
  readonly arg?: string;
  readonly description: string;
  /** A secret: read from the config file only, never from a flag or a HOARD_* variable. */
  readonly fileOnly?: true;
}

/** Keyed by config key, so an option of the schema without its doc does not compile. */
const DOCS = {
  dir: { arg: 'path', description: 'store directory (default ./hoard-data)' },
  maxSize: { arg: 'size', description: 'store size bound, e.g. 50GiB, 500MB (default 10GiB)' },
  httpAddress: { arg: 'host:port', description: 'HTTP listen address; port 0 = free port (default 127.0.0.1:8080)' },
  grpcAddress: { arg: 'host:port', description: "gRPC listen address; '' disables (default 127.0.0.1:9092)" },
  workers: {
    arg: 'n|auto',
    description:
      'threads serving requests; 1 serves on the main thread, N>1 starts N request threads beside the store thread (default auto: one per core)',
  },
  tlsCertFile: {
    arg: 'path',
    description:
      'serve TLS on both listeners (https://, grpcs://) with this PEM certificate chain; reloaded when the file changes',
  },
  tlsKeyFile: { arg: 'path', description: 'the PEM private key of --tls-cert-file; reloaded when the file changes' },
  tlsCaFile: {
    arg: 'path',
    description:
      'mTLS: client certificates are verified against these PEM CA certificates; reloaded when the file changes',
  },
  tlsClientAuth: {
    arg: 'mode',
    description: 'with --tls-ca-file: require a verified client certificate, or take one optionally (default require)',
  },
  htpasswdFile: {
    arg: 'path',
    description:
      'Basic authentication against this Apache htpasswd file (bcrypt, apr1-MD5, SHA1); reloaded when it changes',
  },
  accessFile: {
    arg: 'path',
    description:
      'bearer tokens (stored hashed) and the scopes and namespaces of every identity, YAML or JSON; reloaded when it changes (docs/SECURITY.md)',
  },
  jwtJwksFile: {
    arg: 'path',
    description:
      'accept bearer JWTs signed by a key of this JWKS file (no network at run time); reloaded when it changes',
  },
  jwtIssuer: { arg: 'iss', description: "with --jwt-jwks-file: the issuer a JWT's iss claim must name" },
  jwtAudience: { arg: 'aud', description: "with --jwt-jwks-file: the audience a JWT's aud claim must include" },
  jwtNamespacesClaim: {
    arg: 'claim',
    description: 'the JWT claim listing the namespaces it grants (default namespaces); scopes come from scope or scp',
  },
  allowUnauthenticatedReads: {
    description: 'with authentication on: clients without credentials may read (never write)',
  },
  publicMetrics: { description: 'with authentication on: /metrics answers without credentials (default: admin scope)' },
  namespaceFallback: {
    arg: 'rules',
    description:
      'reads missing in a namespace try others, in order, e.g. pr-*=main or feature-*=develop+main (never writes)',
  },
  namespaceQuota: {
    arg: 'rules',
    description: 'bytes each namespace may hold, e.g. main=20GiB,pr-*=2GiB; over it, its own oldest entries go first',
  },
  logLevel: { arg: 'level', description: 'fatal|error|warn|info|debug|trace|silent (default info)' },
  logFormat: { arg: 'format', description: 'json|pretty (default json)' },
  accessLog: { arg: 'on|off', description: 'one log line per request (default on)' },
  durability: { arg: 'mode', description: 'fsync|none: fsync before acknowledging a write (default fsync)' },
  httpPrefix: {
    arg: 'mode',
    description: 'namespace|ignore: whether a URL prefix before ac/ cas/ is a namespace (default namespace)',
  },
  acMode: {
    arg: 'mode',
    description: 'validate|raw: raw accepts any AC body (ccache layout=bazel) (default validate)',
  },
  rawAcPrefixes: {
    arg: 'list',
    description: 'comma-separated URL prefixes whose /ac/ entries are raw bytes (e.g. ccache)',
  },
  acCompleteness: { arg: 'on|off', description: 'AC hit only when every referenced blob is present (default on)' },
  drainTimeout: { arg: 'duration', description: 'on SIGTERM, time in-flight requests get to finish (default 30s)' },
  keepAliveTimeout: { arg: 'duration', description: 'idle keep-alive connection lifetime (default 120s)' },
  headersTimeout: { arg: 'duration', description: 'time a client gets to send request headers (default 30s)' },
  bodyIdleTimeout: {
    arg: 'duration',
    description:
      'end an upload or download (HTTP body, gRPC Write, unread gRPC Read/GetTree) after this long without progress; 0 disables (default 60s)',
  },
  maxBlobSize: { arg: 'size', description: 'largest single entry accepted; 0 = only the store bound (default 0)' },
  debugCloseConnections: { description: 'testing only: close the connection after every response' },
  turborepoMount: { arg: 'path', description: "where the Turborepo API is mounted; '' unmounts (default /v8)" },
  nxMount: { arg: 'path', description: "where the Nx cache API is mounted; '' unmounts (default /v1/cache)" },
  gradleMount: { arg: 'path', description: "where the Gradle build cache is mounted; '' unmounts (default /gradle)" },
  sccacheMount: { arg: 'path', description: "where sccache's WebDAV is mounted; '' unmounts (default /sccache)" },
  statusPage: {
    arg: 'path',
    description: "where the live status page is served, with the admin scope; '' or off serves none (default /)",
  },
  s3Bucket: {
    arg: 'name',
    description:
      'an S3 bucket as a shared tier behind the disk store (several servers may share one); credentials from AWS_* variables or the config file (default: none)',
  },
  s3Endpoint: {
    arg: 'url',
    description: "the S3 endpoint for a bucket that is not on AWS, e.g. http://127.0.0.1:7480 (default: AWS's)",
  },
  s3Region: { arg: 'region', description: "the bucket's region (default us-east-1)" },
  s3Prefix: { arg: 'prefix', description: 'the prefix of every object hoard writes in the bucket (default none)' },
  s3PathStyle: {
    description: 'address the bucket as <endpoint>/<bucket> (servers without virtual-host buckets, or by IP)',
  },
  s3Write: {
    arg: 'behind|through',
    description:
      'behind: an upload is acknowledged once on disk and queued for the bucket; through: once the bucket has it too (default behind)',
  },
  s3RefreshAfter: {
    arg: 'duration',
    description:
      'a bucket object older than this is copied onto itself when a build uses it, so a lifecycle rule expiring by age spares what is in use; 0 never (default 24h)',
  },
  s3AccessKeyId: { description: 'the bucket access key id (config file only; else AWS_ACCESS_KEY_ID)', fileOnly: true },
  s3SecretAccessKey: {
    description: 'the bucket secret key (config file only; else AWS_SECRET_ACCESS_KEY)',
    fileOnly: true,
  },
} satisfies Record<ConfigKey, Omit<OptionDoc, 'key'>>;

/** Every option, in `hoard serve --help` order. */
export const OPTIONS: readonly OptionDoc[] = Object.entries(DOCS).map(([key, doc]) => ({
  key: key as ConfigKey,
  ...doc,
}));

export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(key: string): string {
  return `HOARD_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
