// TLS for both listeners: the certificate and key files of the config (and with mTLS the
// clients' CA file), read at start and again whenever one of them changes, so certificates rotate without a restart and without
// cutting connections: a listener's new secure context applies to new connections only.
//
// Changes are found by polling the files' metadata (fs.watchFile), which also sees a file
// replaced by a rename or a symlink swap (how cert-manager and certbot rotate). Each
// request thread watches for itself, so no signal has to reach the threads.
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';

/** Key and certificate chain, PEM, as node:tls takes them; with `ca`, the clients' CAs (mTLS). */
export interface TlsKeyPair {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Client certificates are asked for and verified against this file's CAs (mTLS). */
  readonly caFile?: string;
  /** With `caFile`: whether a connection without a verified client certificate is refused. */
  readonly requireClientCertificate: boolean;
}

/** How often the files are checked for a change. */
const POLL_MS = 2000;

/** The configured files, or undefined when TLS is off. Both or neither must be set. */
export function tlsFilesOf(
  config: Pick<Config, 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile' | 'tlsClientAuth'>,
): TlsFiles | undefined {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile, tlsCaFile: caFile } = config;
  if (certFile === '' && keyFile === '') {
    if (caFile !== '') throw new Error('--tls-ca-file needs --tls-cert-file and --tls-key-file: mTLS is TLS first');
    return undefined;
  }
  if (certFile === '' || keyFile === '') {
    throw new Error('--tls-cert-file and --tls-key-file go together: set both to serve TLS, or neither');
  }
  return {
    certFile,
    keyFile,
    caFile: caFile === '' ? undefined : caFile,
    requireClientCertificate: config.tlsClientAuth === 'require',
  };
}

/** node:tls server options for `pair` under `files`' client-certificate policy. */
export function serverTlsOptions(files: TlsFiles, pair: TlsKeyPair) {
  return {
    ...pair,
    requestCert: files.caFile !== undefined,
    rejectUnauthorized: files.caFile !== undefined && files.requireClientCertificate,
  };
}

export async function readKeyPair(files: TlsFiles): Promise<TlsKeyPair> {
  const read = (file: string, flag: string) =>
    readFile(file).catch((err: Error) => {
      throw new Error(`cannot read ${flag} ${file}: ${err.message}`, { cause: err });
    });
  const [cert, key, ca] = await Promise.all([
    read(files.certFile, '--tls-cert-file'),
    read(files.keyFile, '--tls-key-file'),
    files.caFile === undefined ? undefined : read(files.caFile, '--tls-ca-file'),
  ]);
  return ca === undefined ? { key, cert } : { key, cert, ca };
}

/**
 * Calls `apply` with the pair read again after either file changed. A pair that cannot be
 * read or that `apply` refuses (a key that does not match its certificate) is logged and
 * the listener keeps the pair it has. Returns the function that stops watching.
 */
export function watchKeyPair(
  files: TlsFiles,
  apply: (pair: TlsKeyPair) => void,
  logger: Logger,
  what: string,
): () => void {
  let reading = false;
  const onChange = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    if (reading) return;
    reading = true;
    // A rotation writes two files; read both once the second has landed.
    setTimeout(() => {
      readKeyPair(files)
        .then((pair) => {
          apply(pair);
          logger.info({ listener: what, certFile: files.certFile }, 'TLS certificate reloaded');
        })
        .catch((err: unknown) =>
          logger.error({ err, listener: what }, 'TLS certificate not reloaded: the listener keeps the one it has'),
        )
        .finally(() => (reading = false));
    }, 200).unref();
  };
  const options = { interval: POLL_MS, persistent: false };
  const watched = [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])];
  for (const file of watched) watchFile(file, options, onChange);
  return () => {
    for (const file of watched) unwatchFile(file, onChange);
  };
}
