// Apache htpasswd files, as `htpasswd` writes them: one `user:hash` per line, the hash in
// one of the forms it produces: bcrypt (`$2y$`, -B), apr1-MD5 (`$apr1$`, the default, -m)
// and SHA1 (`{SHA}`, -s). Crypt(3) DES and plain text (-d, -p) are refused when the file
// is read: they are too weak to accept and silently ignoring them would lock users out.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';

// apache-md5 is CommonJS whose module.exports is the function; its typings declare an ES
// default export, which TypeScript then types as the module object under nodenext.
const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt: string) => string;

type HashKind = 'bcrypt' | 'apr1' | 'sha1';

export interface HtpasswdEntry {
  readonly kind: HashKind;
  readonly hash: string;
}

/** Users of one htpasswd file, by name. */
export type HtpasswdUsers = ReadonlyMap<string, HtpasswdEntry>;

function kindOf(hash: string): HashKind | undefined {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (/^\$apr1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/.test(hash)) return 'apr1';
  if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash)) return 'sha1';
  return undefined;
}

/**
 * The users of an htpasswd file's text. Blank lines and `#` comments are skipped; a line in
 * another form fails the whole file with its line number (never its content: it holds a hash).
 */
export function parseHtpasswd(text: string, file: string): HtpasswdUsers {
  const users = new Map<string, HtpasswdEntry>();
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const kind = colon > 0 ? kindOf(hash) : undefined;
    if (kind === undefined)
      throw new Error(
        `${file}:${i + 1}: not a user:hash line with a bcrypt ($2y$), apr1-MD5 ($apr1$) or SHA1 ({SHA}) hash ` +
          '(crypt and plain-text passwords are not accepted; write the file with htpasswd -B)',
      );
    users.set(user, { kind, hash });
  }
  return users;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `password` is the one `entry` holds the hash of. bcrypt yields to the event loop. */
export async function verifyHtpasswd(entry: HtpasswdEntry, password: string): Promise<boolean> {
  switch (entry.kind) {
    case 'bcrypt':
      // bcryptjs knows $2a$ and $2b$; $2y$ (PHP's and Apache's name) is the same algorithm.
      return bcrypt.compare(password, entry.hash.replace(/^\$2y\$/, '$2b$'));
    case 'apr1':
      return sameText(aprMd5(password, entry.hash), entry.hash);
    case 'sha1':
      return sameText(`{SHA}${createHash('sha1').update(password).digest('base64')}`, entry.hash);
  }
}
