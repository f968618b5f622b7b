// The CLI against another secured cache: bazel-remote with --htpasswd_file, when
// HOARD_TEST_BAZEL_REMOTE names its binary (it is not a Debian package, so CI skips this
// file). bazel-remote reads gRPC Basic credentials only from the HTTP/2 :authority, where
// Bazel puts them, which --grpc-authority-credentials asks for; over HTTP the Basic header.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../bench/lib/processes.ts';
import { MAIN, runNode } from '../helpers/spawn-server.ts';

const BINARY = process.env['HOARD_TEST_BAZEL_REMOTE'];
const skip = BINARY === undefined ? 'set HOARD_TEST_BAZEL_REMOTE=/path/to/bazel-remote to run it' : false;

let dir: string;
let peer: ChildProcess | undefined;
let httpPort: number;
let grpcPort: number;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'hoard-peer-creds-'));
  const line = execFileSync('htpasswd', ['-nbB', 'alice', 'alice-pw'], { encoding: 'utf8' }).trim();
  await writeFile(join(dir, 'htpasswd'), `${line}\n`);
  await writeFile(join(dir, 'blob'), 'for a secured bazel-remote\n');
  [httpPort, grpcPort] = [await freePort(), await freePort()];
  peer = spawn(
    BINARY!,
    [
      `--dir=${join(dir, 'data')}`,
      '--max_size=1',
      `--http_address=127.0.0.1:${httpPort}`,
      `--grpc_address=127.0.0.1:${grpcPort}`,
      `--htpasswd_file=${join(dir, 'htpasswd')}`,
    ],
    { stdio: 'ignore' },
  );
  await sleep(1500);
});
after(async () => {
  if (peer?.pid !== undefined) process.kill(peer.pid, 'SIGTERM');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('hoard put and stat against bazel-remote with htpasswd, over HTTP and gRPC', { skip }, async () => {
  const file = join(dir, 'blob');
  const http = await runNode([MAIN, 'put', file, '--server', `http://alice:alice-pw@127.0.0.1:${httpPort}`]);
  assert.equal(http.code, 0, http.stderr);
  const digest = http.stdout.split(/\s+/)[0]!;
  const grpc = `grpc://alice:alice-pw@127.0.0.1:${grpcPort}`;
  const viaAuthority = await runNode([MAIN, 'stat', digest, '--server', grpc, '--grpc-authority-credentials']);
  assert.equal(viaAuthority.code, 0, viaAuthority.stderr);
  assert.match(viaAuthority.stdout, /^present /);
  const viaMetadata = await runNode([MAIN, 'stat', digest, '--server', grpc]);
  assert.notEqual(viaMetadata.code, 0, 'bazel-remote took gRPC Basic credentials as metadata: the flag is not needed');
  assert.match(viaMetadata.stderr, /authentication failed/);
  for (const r of [http, viaAuthority, viaMetadata]) assert.ok(!`${r.stdout}${r.stderr}`.includes('alice-pw'));
});
