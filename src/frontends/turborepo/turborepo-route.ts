// The Turborepo remote cache API in the route table, mounted at --turborepo-mount (/v8):
//   GET|HEAD|PUT artifacts/<hash>   one artifact (artifact-handler.ts)
//   POST artifacts                  batch existence query (artifact-query.ts)
//   POST artifacts/events           turbo's hit and miss report
//   GET artifacts/status            {"status":"enabled"}
//   OPTIONS on any of them          the preflight turbo sends with TURBO_PREFLIGHT
// The namespace is turbo's team (`slug`, else `teamId`), below the URL prefix when the mount
// sits under one: `/main/v8/artifacts/<hash>?slug=web` is namespace `main/web`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { rawKey } from '../../core/keys.ts';
import type { Config } from '../../config/schema.ts';
import type { HttpContext } from '../http/http-context.ts';
import { isPlainSegment } from '../http/request-path.ts';
import { isOpaqueId, opaqueIdRule } from '../http/opaque-id.ts';
import { sendError, sendText, writeHead } from '../http/respond.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { PROTOCOL, receiveArtifact, sendArtifact } from './artifact-handler.ts';
import { acceptEvents, answerQuery } from './artifact-query.ts';
import { READ_WORDING, turboWording, WRITE_WORDING } from './turborepo-wording.ts';

export type TurboCall = 'artifact' | 'query' | 'events' | 'status';

export interface TurboParams {
  readonly call: TurboCall;
  /** The artifact's hash, for `artifact`. */
  readonly hash?: string;
  /** The URL prefix before the mount, joined by '/'. */
  readonly prefix: string;
}

/** Methods per call; OPTIONS (the preflight) goes to each. */
const METHODS: Readonly<Record<TurboCall, readonly string[]>> = {
  artifact: ['GET', 'HEAD', 'PUT', 'OPTIONS'],
  query: ['POST', 'OPTIONS'],
  events: ['POST', 'OPTIONS'],
  status: ['GET', 'HEAD', 'OPTIONS'],
};

// turbo's hashes are 16 hex digits; other clients of the API use longer ones.
const MAX_HASH_LENGTH = 128;
const MAX_TEAM_BYTES = 256;
const KEY_PREFIX = 'turbo:';

export function isArtifactHash(hash: string): boolean {
  return isOpaqueId(hash, MAX_HASH_LENGTH);
}

export function matchTurboPath(segments: readonly string[], prefix: readonly string[]): TurboParams | undefined {
  if (segments[0] !== 'artifacts') return undefined;
  const at = prefix.join('/');
  if (segments.length === 1) return { call: 'query', prefix: at };
  if (segments.length !== 2) return undefined;
  const last = segments[1]!;
  if (last === 'events' || last === 'status') return { call: last, prefix: at };
  if (!isArtifactHash(last))
    throw new HoardError(ErrorCode.InvalidArgument, `an artifact hash is ${opaqueIdRule(MAX_HASH_LENGTH)}`);
  return { call: 'artifact', hash: last, prefix: at };
}

/** The team a request names (`slug`, else `teamId`); '' for none. InvalidArgument when malformed. */
export function teamOf(query: URLSearchParams): string {
  const team = query.get('slug') || query.get('teamId') || '';
  if (team === '') return '';
  if (Buffer.byteLength(team) > MAX_TEAM_BYTES || !isPlainSegment(team))
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `a team is at most ${MAX_TEAM_BYTES} bytes, without '/', '\\' or control characters`,
    );
  return team;
}

const PREFLIGHT_HEADERS = [
  'Authorization',
  'Content-Type',
  'User-Agent',
  'x-artifact-duration',
  'x-artifact-tag',
  'x-artifact-sha',
  'x-artifact-dirty-hash',
  'x-artifact-client-ci',
  'x-artifact-client-interactive',
].join(', ');

function preflight(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, methods: readonly string[]): void {
  writeHead(req, res, ctx, 200, {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': methods.join(', '),
    'access-control-allow-headers': PREFLIGHT_HEADERS,
    'access-control-max-age': '600',
    'content-length': 0,
  });
  res.end();
}

const STATUS_BODY = '{"status":"enabled"}';

export function turborepoRoute(ctx: HttpContext, config: Config, mount: readonly string[]): HttpRoute<TurboParams> {
  const namespaceOf = (params: TurboParams, query: URLSearchParams): string =>
    [namespaceOfHttpPrefix(config.httpPrefix, params.prefix), teamOf(query)].filter((s) => s !== '').join('/');

  async function handle(req: IncomingMessage, res: ServerResponse, params: TurboParams, query: URLSearchParams) {
    const method = req.method ?? '';
    try {
      const methods = METHODS[params.call];
      if (!methods.includes(method)) {
        const allow = methods.join(', ');
        sendText(req, res, ctx, 405, `method ${method} is not allowed here; use ${allow}`, { allow });
        return;
      }
      if (method === 'OPTIONS') return preflight(req, res, ctx, methods);
      const namespace = namespaceOf(params, query);
      const keyOf = (hash: string) => rawKey(KEY_PREFIX + hash, namespace);
      switch (params.call) {
        case 'artifact':
          if (method === 'PUT') return await receiveArtifact(req, res, ctx, keyOf(params.hash!));
          return await sendArtifact(req, res, ctx, keyOf(params.hash!));
        case 'query':
          return await answerQuery(req, res, ctx, keyOf, isArtifactHash);
        case 'events':
          return await acceptEvents(req, res, ctx);
        case 'status':
          writeHead(req, res, ctx, 200, { 'content-type': 'application/json', 'content-length': STATUS_BODY.length });
          res.end(method === 'HEAD' ? undefined : STATUS_BODY);
          return;
      }
    } catch (err) {
      sendError(req, res, ctx, err, method === 'PUT' ? WRITE_WORDING : READ_WORDING);
    }
  }

  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD', 'PUT', 'POST', 'OPTIONS'],
    mount,
    match: matchTurboPath,
    wording: turboWording,
    describe(call, params, query) {
      const method = call.operation;
      // A preflight or a method this path does not serve touches nothing: no credentials needed.
      if (method === 'OPTIONS' || !METHODS[params.call].includes(method)) {
        call.access = 'none';
        if (method !== 'OPTIONS') call.cause = 'method_not_allowed';
        return;
      }
      call.namespace = namespaceOf(params, query);
      call.access = method === 'PUT' ? 'write' : 'read';
    },
    handle,
  };
}
