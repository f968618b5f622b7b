import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Protocol } from '../../core/call.ts';
import { queryOf, RouteTable, type HttpRoute } from './route-table.ts';

function route(
  protocol: Protocol,
  methods: string[],
  match: (s: readonly string[], prefix: readonly string[]) => unknown,
  mount?: string[],
): HttpRoute {
  return { protocol, methods, mount, match, describe() {}, handle: () => Promise.resolve() };
}

const lastIsKey = (s: readonly string[]) => (s.at(-1)?.startsWith('key') ? { key: s.at(-1) } : undefined);
const acOrCas = (s: readonly string[]) => (s.at(-2) === 'ac' || s.at(-2) === 'cas' ? { kind: s.at(-2) } : undefined);

test('a mounted route owns its paths before any shaped route; the longest mount wins', () => {
  const table = new RouteTable([
    route('ccache', ['GET'], lastIsKey),
    route('bazel-http', ['GET', 'PUT'], acOrCas),
    route('nx', ['GET', 'PUT'], (s) => ({ rest: s.join('/') }), ['v1', 'cache']),
    route('turborepo', ['GET'], (s) => ({ rest: s.join('/') }), ['v1']),
  ]);
  const at = (path: string, method = 'GET') => table.find(path.split('/').filter(Boolean), method);
  const nx = at('/v1/cache/ac/abc');
  assert.equal(nx.kind === 'route' && nx.route.protocol, 'nx');
  assert.deepEqual(nx.kind === 'route' && nx.params, { rest: 'ac/abc' });
  const turbo = at('/v1/other');
  assert.equal(turbo.kind === 'route' && turbo.route.protocol, 'turborepo');
  // Below any other prefix, the shapes decide, in declaration order.
  const bazel = at('/team/ac/abc');
  assert.equal(bazel.kind === 'route' && bazel.route.protocol, 'bazel-http');
  const ccache = at('/team/ac/key1');
  assert.equal(ccache.kind === 'route' && ccache.route.protocol, 'ccache');
  assert.equal(at('/nothing/here').kind, 'none');
});

test('a path a route claims with a method it does not serve is found, not allowed, with its Allow list', () => {
  const bazel = route('bazel-http', ['GET', 'HEAD', 'PUT'], acOrCas);
  const table = new RouteTable([bazel]);
  const found = table.find(['ac', 'abc'], 'POST');
  assert.equal(found.kind, 'route');
  assert.equal(found.kind === 'route' && found.allowed, false);
  assert.equal(table.allow(bazel), 'GET, HEAD, PUT');
  const get = table.find(['ac', 'abc'], 'HEAD');
  assert.equal(get.kind === 'route' && get.allowed, true);
});

test('a mounted route that does not recognise a path under its mount leaves it unrouted, not to a shaped route', () => {
  const table = new RouteTable([
    route('bazel-http', ['GET'], acOrCas),
    route('gradle', ['GET', 'PUT'], (s) => (s.length === 1 ? s[0] : undefined), ['gradle']),
  ]);
  assert.equal(table.find(['gradle', 'ac', 'abc'], 'GET').kind, 'none');
  const key = table.find(['gradle', 'k'], 'PUT');
  assert.equal(key.kind === 'route' && key.params, 'k');
});

test('a mount below a prefix claims only the paths it recognises, and hands the prefix over', () => {
  const table = new RouteTable([
    route('bazel-http', ['GET'], acOrCas),
    route('gradle', ['GET', 'PUT'], (s, prefix) => (s.length === 1 ? { key: s[0], prefix } : undefined), ['gradle']),
    route('turborepo', ['GET'], (s, prefix) => (s[0] === 'artifacts' ? { prefix } : undefined), ['v8']),
  ]);
  const at = (path: string) => table.find(path.split('/').filter(Boolean), 'GET');
  const gradle = at('/team/main/gradle/k');
  assert.equal(gradle.kind === 'route' && gradle.route.protocol, 'gradle');
  assert.deepEqual(gradle.kind === 'route' && gradle.params, { key: 'k', prefix: ['team', 'main'] });
  // A Bazel prefix that contains a mount's name stays Bazel's.
  const bazel = at('/builds/v8/ac/abc');
  assert.equal(bazel.kind === 'route' && bazel.route.protocol, 'bazel-http');
  // The mount found earliest in the path wins.
  const turbo = at('/main/v8/artifacts/gradle/k');
  assert.equal(turbo.kind === 'route' && turbo.route.protocol, 'turborepo');
  assert.deepEqual(turbo.kind === 'route' && turbo.params, { prefix: ['main'] });
});

test('two routes on one mount, or an empty mount, are configuration errors', () => {
  assert.throws(
    () => new RouteTable([route('nx', ['GET'], () => 1, ['x']), route('gradle', ['GET'], () => 1, ['x'])]),
    /two routes are mounted at \/x\//,
  );
  assert.throws(() => new RouteTable([route('nx', ['GET'], () => 1, [])]), /at least one path segment/);
});

test('handlers get the query string parsed; a target without one gets an empty query', () => {
  const q = queryOf('/v8/artifacts/abc?teamId=team_1&slug=my%20team');
  assert.equal(q.get('teamId'), 'team_1');
  assert.equal(q.get('slug'), 'my team');
  assert.equal(queryOf('/ac/abc').size, 0);
});
