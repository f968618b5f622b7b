// End-to-end: the real Bazel (Debian bazel-bootstrap 4.2.3) against `hoard serve`, over the
// HTTP cache protocol and over gRPC (REAPI), in the default download mode and with
// --remote_download_minimal, plus the reproduction of rule 4's released-then-closed story (repeated minimal builds while the
// server closes the connection after every response). Every warm build must be 100% remote
// cache hits: Bazel reports success even when it had to rebuild everything locally.
//
// The cases run one after another in one private Bazel output user root (the workspace copy
// and the JVM are shared; `clean --expunge` separates the builds), each with its own salt and
// its own hoard process, stopped by PID at the end of the case.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test, type TestContext } from 'node:test';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import {
  coldMinimal,
  coldThenWarmDefault,
  reportedOptions,
  warmMinimal,
  type ScenarioOptions,
} from './bazel-scenarios.ts';
import { createBazelWorkspace, type BazelWorkspace } from './bazel-workspace.ts';
import { findClient, newSalt } from './clients.ts';

const bazel = findClient('bazel', ['--version'], 'apt-get install bazel-bootstrap');
const MINIMAL = ['--remote_download_minimal'];

describe('Bazel against hoard', { skip: bazel.skip }, () => {
  let ws: BazelWorkspace;
  before(async () => {
    ws = await createBazelWorkspace();
  });
  after(async () => {
    await ws?.dispose();
  });

  test('HTTP cache with a URL prefix, default download mode: 100% hits, identical outputs', async (t) => {
    await withHoard([], async (hoard) => {
      await coldThenWarmDefault(ws, options(t, hoard, `${hoard.httpUrl}/some/prefix`, []));
    });
  });

  test('HTTP cache, --remote_download_minimal: 100% hits, local action sees identical inputs', async (t) => {
    await withHoard([], async (hoard) => {
      const opts = options(t, hoard, `${hoard.httpUrl}/minimal`, MINIMAL);
      await warmMinimal(ws, opts, await coldMinimal(ws, opts));
    });
  });

  test('gRPC cache, default download mode: 100% hits, identical outputs', async (t) => {
    await withHoard([], async (hoard) => {
      await coldThenWarmDefault(ws, options(t, hoard, grpcUrl(hoard), []));
    });
  });

  test('gRPC cache with an instance name, --remote_download_minimal: 100% hits', async (t) => {
    await withHoard([], async (hoard) => {
      const opts = options(t, hoard, grpcUrl(hoard), [...MINIMAL, '--remote_instance_name=e2e/minimal']);
      await warmMinimal(ws, opts, await coldMinimal(ws, opts));
    });
  });

  // Rule 4 (docs/CORRECTNESS.md#origin-released-then-closed): Bazel raced a connection the server had asked to close against its reuse by
  // another download, failing --remote_download_minimal builds from the second one on. Here
  // every response carries `Connection: close` and the server closes after writing it.
  test('rule 4, released-then-closed: five --remote_download_minimal builds while every connection is closed', async (t) => {
    await withHoard(['--debug-close-connections'], async (hoard) => {
      assert.equal(
        await connectionHeader(`${hoard.httpUrl}/released-then-closed/cas/${EMPTY_SHA256}`),
        'close',
        'the server must announce every close',
      );
      const opts = options(t, hoard, `${hoard.httpUrl}/released-then-closed`, MINIMAL);
      const expected = await coldMinimal(ws, opts);
      for (let i = 2; i <= 5; i++) await warmMinimal(ws, opts, expected, `build ${i}/5`);
    });
  });
});

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The Connection header of a keep-alive GET, to check the condition that story needs holds. */
function connectionHeader(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.headers.connection));
    });
    req.once('error', reject);
    req.end();
  });
}

async function withHoard(args: readonly string[], body: (hoard: HoardProcess) => Promise<void>): Promise<void> {
  const hoard = await spawnHoard(args);
  try {
    await body(hoard);
  } finally {
    await hoard.dispose();
  }
}

function grpcUrl(hoard: HoardProcess): string {
  assert.ok(hoard.grpcTarget !== undefined, `hoard serve printed no gRPC listening line:\n${hoard.output()}`);
  return `grpc://${hoard.grpcTarget}`;
}

function options(t: TestContext, hoard: HoardProcess, remoteCache: string, flags: readonly string[]): ScenarioOptions {
  return reportedOptions(t, hoard, remoteCache, flags, newSalt('bazel'));
}
