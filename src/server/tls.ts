// TLS for both listeners: the certificate and key files of the config, read at start and
// again whenever either file changes, so certificates rotate without a restart and without
// cutting connections: a listener's new secure context applies to new connections only.
//
// Changes are found by polling the files' metadata (fs.watchFile), which also sees a file
// replaced by a rename or a symlink swap (how cert-manager and certbot rotate). Each
// request thread watches for itself, so no signal has to reach the threads.
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';

/** Key and certificate chain, PEM, as node:tls takes them. */
export interface TlsKeyPair {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** How often the files are checked for a change. */
const POLL_MS = 2000;

/** The configured files, or undefined when TLS is off. Both or neither must be set. */
export function tlsFilesOf(config: Pick<Config, 'tlsCertFile' | 'tlsKeyFile'>): TlsFiles | undefined {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = config;
  if (certFile === '' && keyFile === '') return undefined;
  if (certFile === '' || keyFile === '') {
    throw new Error('--tls-cert-file and --tls-key-file go together: set both to serve TLS, or neither');
  }
  return { certFile, keyFile };
}

export async function readKeyPair(files: TlsFiles): Promise<TlsKeyPair> {
  const [cert, key] = await Promise.all([
    readFile(files.certFile).catch((err: Error) => {
      throw new Error(`cannot read --tls-cert-file ${files.certFile}: ${err.message}`, { cause: err });
    }),
    readFile(files.keyFile).catch((err: Error) => {
      throw new Error(`cannot read --tls-key-file ${files.keyFile}: ${err.message}`, { cause: err });
    }),
  ]);
  return { key, cert };
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
  watchFile(files.certFile, options, onChange);
  watchFile(files.keyFile, options, onChange);
  return () => {
    unwatchFile(files.certFile, onChange);
    unwatchFile(files.keyFile, onChange);
  };
}
