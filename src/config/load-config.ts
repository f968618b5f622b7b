// Loads the configuration once at start: defaults < config file < HOARD_* environment
// variables < command-line flags. The merged values are validated by the one schema,
// frozen and handed down; no other module reads process.env. A bad value fails start-up
// with a message naming the option, where it came from and what is expected.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { configSchema, envName, flagName, OPTIONS, type Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Values given on the command line, by camelCase key; undefined = not given. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Config file path; default the `config` flag, then HOARD_CONFIG. */
  readonly configFile?: string;
  /** Environment; default process.env. Tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const KEYS = new Set<string>(OPTIONS.map((o) => o.key));

/** Accepts `max-size`, `max_size` and `maxSize` as the same key. */
function camelKey(name: string): string {
  return name.replace(/[-_]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const problems: string[] = [];

  const file = options.configFile ?? (options.flags?.['config'] as string | undefined) ?? env['HOARD_CONFIG'];
  if (file !== undefined && file !== '') {
    for (const [name, value] of Object.entries(await readConfigFile(file))) {
      const key = camelKey(name);
      if (!KEYS.has(key)) {
        problems.push(
          `unknown option ${JSON.stringify(name)} in ${file} (known: ${OPTIONS.map((o) => flagName(o.key)).join(', ')})`,
        );
        continue;
      }
      values[key] = value;
      sources[key] = `${JSON.stringify(name)} in ${file}`;
    }
  }
  for (const { key, fileOnly } of OPTIONS) {
    const v = env[envName(key)];
    if (v !== undefined && fileOnly) {
      problems.push(`${envName(key)} is not read: a secret goes in the config file (or the AWS_* variables)`);
    } else if (v !== undefined) {
      values[key] = v;
      sources[key] = envName(key);
    }
  }
  for (const { key, fileOnly } of OPTIONS) {
    const v = options.flags?.[key];
    if (v !== undefined && fileOnly) {
      problems.push(`--${flagName(key)} is not accepted: a secret goes in the config file (or the AWS_* variables)`);
    } else if (v !== undefined) {
      values[key] = v;
      sources[key] = `--${flagName(key)}`;
    }
  }

  const result = configSchema.safeParse(values);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const where = sources[key] ?? `--${flagName(key)}`;
      problems.push(`invalid ${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems.join('\n'));
  return deepFreeze(result.data);
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    const ext = extname(file).toLowerCase();
    if (ext === '.toml') doc = parseToml(text);
    else if (ext === '.json') doc = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') doc = parseYaml(text);
    else throw new Error('use a .yaml, .yml, .toml or .json file');
  } catch (err) {
    throw new ConfigError(`cannot parse config file ${file}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`config file ${file} must hold a mapping of option names to values`);
  return doc as Record<string, unknown>;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
