// packaging/systemd/hoard.service as systemd itself reads it (`systemd-analyze verify`: no
// unknown key, no value it would ignore), with the settings the operations guide relies on,
// and a command line `hoard serve` accepts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { findClient } from '../e2e/clients.ts';
import { MAIN, REPO_ROOT, runNode } from '../helpers/spawn-server.ts';

const UNIT = join(REPO_ROOT, 'packaging', 'systemd', 'hoard.service');
const analyze = findClient('systemd-analyze', ['--version'], 'apt-get install systemd');

test('systemd accepts the unit without a warning', { skip: analyze.skip }, async () => {
  const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', UNIT], { timeout: 60_000 });
  assert.equal(`${stdout}${stderr}`.trim(), '', 'systemd-analyze verify printed warnings');
});

test('the unit drains on stop, keeps the store in its state directory and is hardened', async () => {
  const unit = await readFile(UNIT, 'utf8');
  const settings = new Map<string, string>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m !== null) settings.set(m[1]!, m[2]!);
  }
  assert.equal(settings.get('KillSignal'), 'SIGTERM');
  assert.equal(
    settings.get('SuccessExitStatus'),
    '143',
    'a drain cut short by a second SIGTERM exits 143 and is not a failure',
  );
  assert.ok(Number(settings.get('TimeoutStopSec')) > 30, 'longer than the default --drain-timeout of 30 s');
  assert.equal(settings.get('StateDirectory'), 'hoard');
  assert.match(settings.get('ExecStart')!, / --dir \/var\/lib\/hoard\b/);
  for (const key of [
    'NoNewPrivileges',
    'ProtectSystem',
    'PrivateTmp',
    'RestrictAddressFamilies',
    'CapabilityBoundingSet',
  ])
    assert.ok(settings.has(key), `${key} is set`);
  assert.ok(!settings.has('MemoryDenyWriteExecute'), 'V8 needs writable and executable memory');
  assert.notEqual(settings.get('User'), 'root');

  // Every flag of the command line is one `hoard serve` knows.
  const help = await runNode([MAIN, 'serve', '--help']);
  const flags = settings.get('ExecStart')!.match(/--[a-z-]+/g) ?? [];
  assert.ok(flags.length >= 2);
  for (const flag of flags) assert.ok(help.stdout.includes(`${flag} `), `hoard serve has ${flag}`);
});
