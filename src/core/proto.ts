// Loads hoard's own .proto files (proto/) once, with protobufjs. The well-known
// google/protobuf types come bundled with protobufjs. Frontends and the AC completeness
// check share this one Root, so every layer decodes the same schema.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

const PROTO_FILES = [
  'build/bazel/remote/execution/v2/remote_execution.proto',
  'google/bytestream/bytestream.proto',
  'google/rpc/status.proto',
  'build/bazel/semver/semver.proto',
];

let root: protobuf.Root | undefined;

export function protoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') || path.isAbsolute(target) ? target : path.join(PROTO_DIR, target);
  r.loadSync(PROTO_FILES, { keepCase: false });
  r.resolveAll();
  root = r;
  return r;
}

export function protoType(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

export const REAPI = 'build.bazel.remote.execution.v2';
