import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from './load-config.ts';
import { parseDuration, parseSize } from './units.ts';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hoard-config-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('defaults are the documented ones and the result is frozen', async () => {
  const c = await loadConfig({ env: {} });
  assert.equal(c.dir, './hoard-data');
  assert.equal(c.maxSize, 10 * 2 ** 30);
  assert.deepEqual(c.httpAddress, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.grpcAddress, { host: '127.0.0.1', port: 9092 });
  assert.equal(c.accessLog, true);
  assert.equal(c.acCompleteness, true);
  assert.equal(c.drainTimeout, 30_000);
  assert.equal(c.keepAliveTimeout, 120_000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.httpAddress));
});

test('file < env < flags, and file keys may be kebab, snake or camel case', async () => {
  const yamlFile = join(tmp, 'hoard.yaml');
  await writeFile(yamlFile, 'max-size: 1GiB\nhttp_address: "127.0.0.1:1"\nlogLevel: debug\ndrain-timeout: 5s\n');
  const c = await loadConfig({
    configFile: yamlFile,
    env: { HOARD_HTTP_ADDRESS: '127.0.0.1:2', HOARD_LOG_LEVEL: 'warn' },
    flags: { logLevel: 'error' },
  });
  assert.equal(c.maxSize, 2 ** 30);
  assert.equal(c.httpAddress.port, 2);
  assert.equal(c.logLevel, 'error');
  assert.equal(c.drainTimeout, 5000);

  const tomlFile = join(tmp, 'hoard.toml');
  await writeFile(tomlFile, 'grpc-address = ""\nraw-ac-prefixes = ["ccache/", "/other"]\naccess-log = false\n');
  const t = await loadConfig({ env: { HOARD_CONFIG: tomlFile } });
  assert.equal(t.grpcAddress, undefined);
  assert.deepEqual(t.rawAcPrefixes, ['ccache', 'other']);
  assert.equal(t.accessLog, false);
});

test('errors name the option, its source and the expected shape', async () => {
  await assert.rejects(loadConfig({ env: { HOARD_MAX_SIZE: '5XB' } }), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /invalid HOARD_MAX_SIZE: "5XB" is not a size/);
    return true;
  });
  await assert.rejects(
    loadConfig({ env: {}, flags: { httpAddress: 'localhost' } }),
    /invalid --http-address: "localhost" is not a listen address/,
  );
  await assert.rejects(
    loadConfig({ env: {}, flags: { durability: 'sometimes' } }),
    /invalid --durability: "sometimes" is not one of fsync, none/,
  );
  const bad = join(tmp, 'bad.yaml');
  await writeFile(bad, 'max-sise: 1GiB\n');
  await assert.rejects(loadConfig({ env: {}, configFile: bad }), /unknown option "max-sise" in .*bad\.yaml/);
  await assert.rejects(loadConfig({ env: {}, configFile: join(tmp, 'missing.yaml') }), /cannot read config file/);
});

test('units', () => {
  assert.equal(parseSize('500MB'), 500e6);
  assert.equal(parseSize('50GiB'), 50 * 2 ** 30);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseDuration('1500ms'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration(3), 3000);
});

test('namespace quotas and fallbacks from a flag or a config-file mapping, in order', async () => {
  const c = await loadConfig({
    env: {},
    flags: { namespaceQuota: 'main=20GiB, pr-*=2GiB', namespaceFallback: 'pr-*=main,feature-*=develop+main' },
  });
  assert.deepEqual(c.namespaceQuota, [
    { pattern: 'main', bytes: 20 * 2 ** 30 },
    { pattern: 'pr-*', bytes: 2 * 2 ** 30 },
  ]);
  assert.deepEqual(c.namespaceFallback, [
    { pattern: 'pr-*', fallback: ['main'] },
    { pattern: 'feature-*', fallback: ['develop', 'main'] },
  ]);
  const yamlFile = join(tmp, 'namespaces.yaml');
  await writeFile(yamlFile, 'namespace-quota:\n  "pr-*": 1GiB\nnamespace-fallback:\n  "pr-*": [main, release]\n');
  const f = await loadConfig({ configFile: yamlFile, env: {} });
  assert.deepEqual(f.namespaceQuota, [{ pattern: 'pr-*', bytes: 2 ** 30 }]);
  assert.deepEqual(f.namespaceFallback, [{ pattern: 'pr-*', fallback: ['main', 'release'] }]);
  const d = await loadConfig({ env: {} });
  assert.deepEqual([d.namespaceQuota, d.namespaceFallback], [[], []]);
  await assert.rejects(loadConfig({ env: {}, flags: { namespaceQuota: 'main' } }), /--namespace-quota.*main=20GiB/);
  await assert.rejects(loadConfig({ env: {}, flags: { namespaceQuota: 'p*r=1GiB' } }), /may only end it/);
  await assert.rejects(loadConfig({ env: {}, flags: { namespaceFallback: 'pr-*=ma*' } }), /exact name/);
});

test('bucket credentials come from the config file only: a flag or a HOARD_ variable is refused without echoing it', async () => {
  const file = join(tmp, 'bucket.yaml');
  await writeFile(file, 's3-bucket: cache\ns3-access-key-id: AKIDFILE\ns3_secret_access_key: file-secret\n');
  const c = await loadConfig({ env: {}, configFile: file });
  assert.equal(c.s3Bucket, 'cache');
  assert.equal(c.s3AccessKeyId, 'AKIDFILE');
  assert.equal(c.s3SecretAccessKey, 'file-secret');
  assert.equal(c.s3Write, 'behind');

  const fromFlag = loadConfig({ env: {}, flags: { s3SecretAccessKey: 'flag-secret' } });
  await assert.rejects(fromFlag, (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /--s3-secret-access-key is not accepted: a secret goes in the config file/);
    assert.doesNotMatch(err.message, /flag-secret/);
    return true;
  });
  const fromEnv = loadConfig({ env: { HOARD_S3_ACCESS_KEY_ID: 'env-key' } });
  await assert.rejects(fromEnv, /HOARD_S3_ACCESS_KEY_ID is not read/);
});
