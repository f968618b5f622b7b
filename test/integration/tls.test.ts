// TLS on both listeners (--tls-cert-file, --tls-key-file), with certificates the test makes:
// HTTPS and grpcs:// work for a client that trusts the CA, plain text on those ports gets
// nowhere, and a certificate rotated on disk is served to new connections without a restart
// while connections already open go on (with the suite's request threads: each watches).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request, type RequestOptions } from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, status } from '@grpc/grpc-js';
import { runNode, MAIN, spawnHoard } from '../helpers/spawn-server.ts';
import { makeTestPki } from '../helpers/test-pki.ts';
import { createClient } from '../../src/client/create-client.ts';
import { digestOf } from '../../src/core/digest.ts';
import { rawRequest, sha256, startTestServer, testConfig } from '../helpers/test-server.ts';
import { startServer } from '../../src/server/start-server.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { chunks, codeOf, reapiClients, unary, uploadName, writeMessages } from './reapi-harness.ts';

interface Answer {
  readonly status: number;
  readonly body: Buffer;
  /** The serial number of the certificate the server presented on this connection. */
  readonly serial: number;
}

function httpsRequest(
  url: string,
  method: string,
  path: string,
  options: RequestOptions,
  body?: Buffer,
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, ...options }, (res) => {
      const serial = Number.parseInt((res.socket as TLSSocket).getPeerCertificate().serialNumber, 16);
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), serial }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('TLS: https and grpcs for a client that trusts the CA, nothing in plain text, a rotated certificate for new connections', async () => {
  const pki = await makeTestPki();
  const live = { certFile: path.join(pki.dir, 'live.crt'), keyFile: path.join(pki.dir, 'live.key') };
  await pki.issue(1, live);
  const s = await startTestServer({ tlsCertFile: live.certFile, tlsKeyFile: live.keyFile, grpcAddress: '127.0.0.1:0' });
  const kept = new Agent({ ca: pki.ca, keepAlive: true, maxSockets: 1 });
  const grpc = reapiClients(s.server.grpcAddress!, credentials.createSsl(pki.ca));
  const plainGrpc = reapiClients(s.server.grpcAddress!);
  try {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const data = randomBytes(3000);
    const put = await httpsRequest(s.url, 'PUT', `/cas/${sha256(data)}`, { agent: kept }, data);
    assert.deepEqual([put.status, put.serial], [200, 1]);
    const got = await httpsRequest(s.url, 'GET', `/cas/${sha256(data)}`, { agent: kept });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data));
    // Not trusted without the CA; plain HTTP on the TLS port gets no answer.
    await assert.rejects(
      httpsRequest(s.url, 'GET', '/healthz', { agent: false }),
      /unable to verify|self-signed|local issuer/,
    );
    await assert.rejects(rawRequest(s.url.replace('https:', 'http:'), 'GET', '/healthz'));

    // gRPC over TLS: a Write, then FindMissingBlobs finds it there, and what HTTP stored too.
    const blob = randomBytes(5000);
    assert.equal(await writeMessages(grpc.bs, chunks(uploadName(blob), blob)), blob.length);
    const found = await unary<{ missingBlobDigests: unknown[] }>(grpc.cas, 'FindMissingBlobs', {
      blobDigests: [
        { hash: sha256(blob), sizeBytes: blob.length },
        { hash: sha256(data), sizeBytes: data.length },
      ],
    });
    assert.deepEqual(found.missingBlobDigests, []);
    assert.equal(await codeOf(unary(plainGrpc.caps, 'GetCapabilities', {})), status.UNAVAILABLE);

    // Rotation: new files in place; new connections get serial 2 once it is noticed, while
    // the kept connection goes on with the certificate it started with.
    await pki.issue(2, live);
    let serial = 1;
    for (let i = 0; i < 100 && serial !== 2; i++) {
      await sleep(100);
      serial = (await httpsRequest(s.url, 'GET', '/healthz', { agent: false, ca: pki.ca })).serial;
    }
    assert.equal(serial, 2, 'a new connection gets the rotated certificate');
    // Every thread has it (new connections spread over the request threads).
    for (let i = 0; i < 10; i++) {
      for (let tries = 0; ; tries++) {
        const now = (await httpsRequest(s.url, 'GET', '/healthz', { agent: false, ca: pki.ca })).serial;
        if (now === 2) break;
        assert.ok(tries < 50, 'every request thread picks up the rotated certificate');
        await sleep(100);
      }
    }
    const again = await httpsRequest(s.url, 'GET', `/cas/${sha256(data)}`, { agent: kept });
    assert.deepEqual([again.status, again.serial], [200, 1], 'the open connection was not cut');
    assert.equal(await codeOf(unary(grpc.caps, 'GetCapabilities', {})), status.OK);

    // hoard's own client and CLI, trusting the CA: https:// and grpcs://.
    for (const server of [s.url, `grpcs://${s.server.grpcAddress!}`]) {
      const client = createClient(server, { ca: pki.ca, retry: { retries: 0 } });
      try {
        const more = randomBytes(2000);
        await client.put(digestOf(more), more);
        assert.ok(Buffer.from((await client.getBytes(digestOf(more)))!).equals(more), server);
      } finally {
        await client.close();
      }
      const cli = await runNode([
        MAIN,
        'stat',
        '--server',
        server,
        '--tls-ca-file',
        path.join(pki.dir, 'ca.crt'),
        `${sha256(data)}/${data.length}`,
      ]);
      assert.equal(cli.code, 0, `${server}: ${cli.stderr}`);
      const untrusted = await runNode([
        MAIN,
        'stat',
        '--server',
        server,
        '--retries',
        '0',
        `${sha256(data)}/${data.length}`,
      ]);
      assert.notEqual(untrusted.code, 0, `${server} without the CA`);
    }
  } finally {
    grpc.close();
    plainGrpc.close();
    kept.destroy();
    await s.close();
    await pki.dispose();
  }
});

test('hoard serve with TLS announces https:// and grpcs://; one TLS file without the other stops start-up', async () => {
  const pki = await makeTestPki();
  const cert = await pki.issue(7);
  const h = await spawnHoard(['--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile]);
  try {
    assert.match(h.output(), /^hoard: HTTP listening on https:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(h.output(), /^hoard: gRPC listening on grpcs:\/\/127\.0\.0\.1:\d+$/m);
    const ok = await httpsRequest(h.httpUrl, 'GET', '/readyz', { agent: false, ca: pki.ca });
    assert.deepEqual([ok.status, ok.serial], [200, 7]);
  } finally {
    await h.dispose();
  }
  const alone = await runNode([MAIN, 'serve', '--dir', path.join(pki.dir, 'store'), '--tls-cert-file', cert.certFile]);
  assert.notEqual(alone.code, 0);
  assert.match(alone.stderr, /--tls-cert-file and --tls-key-file go together/);
  await pki.dispose();
});

test('mTLS (--tls-ca-file): a verified client certificate is required, or optional, and names the caller in the access log', async () => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const server = await pki.issue(1);
  const main = await pki.issueClient('ci-main');
  const stranger = await other.issueClient('ci-main');
  const lines: { log?: string; certificate?: string; status?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[0]) });
  const dirs: string[] = [];
  const start = async (tlsClientAuth: string) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hoard-mtls-'));
    dirs.push(dir);
    const config = await testConfig(dir, {
      tlsCertFile: server.certFile,
      tlsKeyFile: server.keyFile,
      tlsCaFile: pki.caFile,
      tlsClientAuth,
      grpcAddress: '127.0.0.1:0',
      logLevel: 'info',
      accessLog: 'on',
    });
    return startServer(config, { logger });
  };
  const required = await start('require');
  const optional = await start('optional');
  const get = (url: string, options: RequestOptions) =>
    httpsRequest(url, 'GET', '/readyz', { agent: false, ca: pki.ca, ...options });
  try {
    // Required: no certificate, or one from another CA, gets no answer; ours does.
    await assert.rejects(get(required.httpUrl, {}));
    await assert.rejects(get(required.httpUrl, stranger));
    assert.equal((await get(required.httpUrl, main)).status, 200);
    // Optional: anyone gets in; only a verified certificate names the caller.
    assert.equal((await get(optional.httpUrl, {})).status, 200);
    assert.equal((await get(optional.httpUrl, main)).status, 200);

    // gRPC, required: the same.
    const withCert = reapiClients(required.grpcAddress!, credentials.createSsl(pki.ca, main.key, main.cert));
    const without = reapiClients(required.grpcAddress!, credentials.createSsl(pki.ca));
    try {
      assert.equal(await codeOf(unary(withCert.caps, 'GetCapabilities', {})), status.OK);
      assert.equal(await codeOf(unary(without.caps, 'GetCapabilities', {})), status.UNAVAILABLE);
    } finally {
      withCert.close();
      without.close();
    }

    for (let i = 0; i < 100 && lines.filter((l) => l.log === 'access').length < 4; i++) await sleep(20);
    const access = lines.filter((l) => l.log === 'access').map((l) => l.certificate ?? '-');
    assert.deepEqual(access.sort(), ['-', 'ci-main', 'ci-main', 'ci-main']);
  } finally {
    await required.shutdown(1000);
    await optional.shutdown(1000);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await pki.dispose();
    await other.dispose();
  }
});
