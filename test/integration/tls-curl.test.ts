// The gRPC listener over TLS and mTLS with an independent client: curl (libcurl's nghttp2
// and OpenSSL, nothing of Node's), sending framed REAPI calls over HTTP/2 with ALPN. A
// client certificate from the CA is the call's identity, with the grant the access file
// gives its subject; no certificate gets no connection at all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { findClient } from '../e2e/clients.ts';
import { makeTestPki } from '../helpers/test-pki.ts';
import { startTestServer } from '../helpers/test-server.ts';

const run = promisify(execFile);
const curl = findClient('curl', ['--version'], 'apt-get install curl');
const FIND_MISSING = '/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs';
const CAPABILITIES = '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities';

test(
  'grpcs:// and mTLS with curl --http2: a certificate is an identity with its grant; none gets no connection',
  { skip: curl.skip },
  async () => {
    const pki = await makeTestPki();
    const dir = await mkdtemp(join(tmpdir(), 'hoard-curl-'));
    const server = await pki.issue(1);
    const accessFile = join(dir, 'access.yaml');
    await writeFile(accessFile, 'certificates:\n  - { name: no-reads, scopes: [write] }\n');
    const emptyMessage = join(dir, 'empty.grpc');
    await writeFile(emptyMessage, Buffer.alloc(5)); // one gRPC frame: uncompressed, length 0
    const files: Record<string, string> = {};
    for (const name of ['reader', 'no-reads']) {
      const c = await pki.issueClient(name);
      files[`${name}.crt`] = join(dir, `${name}.crt`);
      files[`${name}.key`] = join(dir, `${name}.key`);
      await writeFile(files[`${name}.crt`]!, c.cert);
      await writeFile(files[`${name}.key`]!, c.key);
    }
    const s = await startTestServer({
      tlsCertFile: server.certFile,
      tlsKeyFile: server.keyFile,
      tlsCaFile: pki.caFile,
      accessFile,
      grpcAddress: '127.0.0.1:0',
    });
    /** grpc-status of one call (from the trailers curl prints with the headers), or curl's failure. */
    const call = async (path: string, cert?: string): Promise<string> => {
      const args = ['--silent', '--show-error', '--http2', '--cacert', pki.caFile, '-D', '-', '-o', '/dev/null'];
      if (cert !== undefined) args.push('--cert', files[`${cert}.crt`]!, '--key', files[`${cert}.key`]!);
      args.push('-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', `@${emptyMessage}`);
      args.push(`https://${s.server.grpcAddress!}${path}`);
      try {
        const { stdout } = await run('curl', args);
        assert.match(stdout, /^HTTP\/2 200/m, stdout);
        return /^grpc-status: (\d+)/m.exec(stdout)?.[1] ?? `no grpc-status in:\n${stdout}`;
      } catch (err) {
        return `curl failed (${(err as { code?: number }).code})`;
      }
    };
    try {
      assert.equal(await call(CAPABILITIES, 'reader'), '0');
      assert.equal(await call(FIND_MISSING, 'reader'), '0', 'a certificate without a grant reads (the defaults)');
      assert.equal(await call(FIND_MISSING, 'no-reads'), '7', 'PERMISSION_DENIED: its grant has no read scope');
      assert.match(await call(CAPABILITIES), /^curl failed/, 'no certificate, no connection');
    } finally {
      await s.close();
      await pki.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
