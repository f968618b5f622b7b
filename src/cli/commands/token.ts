// hoard token create --name NAME --scopes read,write [--namespaces 'main,pr-*'] [--access-file FILE]:
// a new bearer token for the server's --access-file (src/access/access-file.ts). The secret
// is 32 random bytes, base64url, prefixed `hoard_`; it is printed ONCE, alone on stdout's
// first line (`| head -1` takes it), and only its sha256 is kept. With FILE, the record is
// added to the file's `tokens:` list (the file is created if missing; its other content and
// comments stay as they are) and written by a rename, so a server watching the file never
// reads half of it; without FILE, the record is printed for the operator to add.
// Exit 0 ok, 1 when the file cannot be updated (unreadable, not an access file, the name
// is taken), 2 on usage errors. Nothing is printed unless the record was stored.
import type { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Document, isMap, isSeq, parseDocument, stringify, type ToStringOptions } from 'yaml';
import { parseAccessFile } from '../../access/access-file.ts';
import { checkNamespacePattern } from '../../core/namespace-pattern.ts';
import { FULL_ACCESS, SCOPES, type Scope } from '../../core/identity.ts';
import { parseUsage } from '../cli-support.ts';

export interface TokenRecord {
  readonly name: string;
  readonly sha256: string;
  readonly scopes: readonly Scope[];
  readonly namespaces: readonly string[];
}

interface CreateFlags {
  name: string;
  scopes: string;
  namespaces?: string;
  accessFile?: string;
}

/** Keeps the file's look: `[read, write]` stays unpadded, long lines are not folded. */
const YAML_OUT: ToStringOptions = { flowCollectionPadding: false, lineWidth: 0 };

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage the bearer tokens of an access file (--access-file)');
  token
    .command('create')
    .description('make a token: print its secret once, store only its sha256 in the access file')
    .requiredOption('--name <name>', 'what the token is for (unique in the file), e.g. ci-main')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`)
    .option('--namespaces <patterns>', 'comma-separated namespaces or prefixes ending in * (default *: all)')
    .option('--access-file <file>', 'add the record to this file (YAML, or JSON by its .json name); created if missing')
    .addHelpText(
      'after',
      '\nThe secret is printed once, alone on the first line of stdout; hoard cannot show it again.' +
        '\nClients send it as `hoard ... --token SECRET`, HOARD_TOKEN=SECRET, or Authorization: Bearer SECRET.',
    )
    .action(async function (this: Command, flags: CreateFlags) {
      const spec = await parseUsage(this, () => ({
        name: checkName(flags.name),
        scopes: parseScopes(flags.scopes),
        namespaces: parseNamespaces(flags.namespaces),
      }));
      const secret = `hoard_${randomBytes(32).toString('base64url')}`;
      const sha256 = createHash('sha256').update(secret).digest('hex');
      const record: TokenRecord = { name: spec.name, sha256, scopes: spec.scopes, namespaces: spec.namespaces };
      if (flags.accessFile !== undefined) await addTokenRecord(flags.accessFile, record);
      const lines = [
        secret,
        '# Store this token now (e.g. in your CI secret store): only its sha256 is kept, it cannot be shown again.',
      ];
      if (flags.accessFile !== undefined) {
        lines.push(
          `# Added token ${JSON.stringify(record.name)} (${record.scopes.join(', ')} on ${record.namespaces.join(', ')}) to ${flags.accessFile}; a server watching it reloads it within seconds.`,
        );
      } else {
        lines.push("# Add this record to the tokens: list of the server's --access-file:");
        lines.push(stringify([recordDocument(new Document(), record)], YAML_OUT).trimEnd());
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function checkName(name: string): string {
  const n = name.trim();
  if (n === '' || /\p{Cc}/u.test(n)) throw new Error(`--name ${JSON.stringify(name)}: expected a printable name`);
  return n;
}

function parseScopes(value: string): Scope[] {
  const scopes = list(value);
  if (scopes.length === 0) throw new Error(`--scopes: expected one or more of ${SCOPES.join(', ')}`);
  for (const s of scopes)
    if (!(SCOPES as readonly string[]).includes(s))
      throw new Error(`--scopes: ${JSON.stringify(s)} is not one of ${SCOPES.join(', ')}`);
  return [...new Set(scopes as Scope[])];
}

function parseNamespaces(value: string | undefined): string[] {
  if (value === undefined) return [...FULL_ACCESS.namespaces];
  const patterns = list(value);
  if (patterns.length === 0)
    throw new Error('--namespaces: expected one or more namespaces or patterns, e.g. main,pr-*');
  for (const p of patterns) {
    try {
      checkNamespacePattern(p);
    } catch (err) {
      throw new Error(`--namespaces: ${(err as Error).message}`, { cause: err });
    }
  }
  return [...new Set(patterns)];
}

/** The record as a YAML node: a block map with flow lists, or a flow map like the list's others. */
function recordDocument(doc: Document, record: TokenRecord, flowMap = false) {
  const node = doc.createNode({ ...record, scopes: [...record.scopes], namespaces: [...record.namespaces] });
  node.flow = flowMap;
  for (const item of node.items) if (isSeq(item.value)) item.value.flow = true;
  return node;
}

/**
 * Adds `record` to `file`'s tokens (creating the file), refusing a name already there. The
 * file must parse as an access file before (its own error otherwise) and does after, which
 * is checked before it replaces the old one.
 */
async function addTokenRecord(file: string, record: TokenRecord): Promise<void> {
  const target = await realpath(file).catch(() => file); // a symlinked file (a mounted config) is updated where it is
  let before: string | undefined;
  try {
    before = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (before !== undefined) parseAccessFile(before, file);
  const json = extname(file).toLowerCase() === '.json';
  const after = json ? addToJson(before, record, file) : addToYaml(before, record, file);
  parseAccessFile(after, file);
  const mode = await stat(target).then(
    (s) => s.mode & 0o7777,
    () => undefined,
  );
  const tmp = join(dirname(target), `.${basename(target)}.hoard-${process.pid}`);
  try {
    await writeFile(tmp, after, { flag: 'wx' });
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function duplicate(file: string, name: string): Error {
  return new Error(
    `${file} already has a token named ${JSON.stringify(name)}: choose another --name, or remove that one first`,
  );
}

function addToYaml(text: string | undefined, record: TokenRecord, file: string): string {
  const doc = text === undefined ? new Document({}) : parseDocument(text);
  let tokens = doc.get('tokens', true);
  if (tokens === undefined) {
    doc.set('tokens', doc.createNode([]));
    tokens = doc.get('tokens', true);
  }
  if (!isSeq(tokens)) throw new Error(`${file}: tokens is not a list`); // parseAccessFile said it was: a guard
  let flowMap = false;
  for (const item of tokens.items) {
    if (isMap(item)) {
      if (item.get('name') === record.name) throw duplicate(file, record.name);
      flowMap = item.flow === true;
    }
  }
  if (tokens.items.length === 0) tokens.flow = false; // `tokens: []` becomes a block list
  tokens.add(recordDocument(doc, record, flowMap));
  return doc.toString(YAML_OUT);
}

function addToJson(text: string | undefined, record: TokenRecord, file: string): string {
  const doc = (text === undefined ? {} : JSON.parse(text)) as { tokens?: { name?: unknown }[] };
  doc.tokens ??= [];
  if (doc.tokens.some((t) => t.name === record.name)) throw duplicate(file, record.name);
  doc.tokens.push({ ...record });
  return `${JSON.stringify(doc, null, 2)}\n`;
}
