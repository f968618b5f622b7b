// The one ActionResult validation of both Bazel HTTP AC PUTs and REAPI UpdateActionResult:
// each refusal names its field and is InvalidArgument; what Bazel writes passes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, emptyHash } from '../core/digest.ts';
import { isHoardError } from '../core/errors.ts';
import { protoType, REAPI } from '../core/proto.ts';
import {
  checkEncodedActionResultSize,
  decodeValidActionResult,
  MAX_ENCODED_ACTION_RESULT_BYTES,
  validateActionResult,
  type ActionResultMessage,
} from './action-result-validation.ts';

const encode = (value: object): Buffer => {
  const t = protoType(`${REAPI}.ActionResult`);
  return Buffer.from(t.encode(t.create(value)).finish());
};
const d = (text: string) => {
  const x = digestOf(Buffer.from(text));
  return { hash: x.hash, sizeBytes: x.sizeBytes };
};
const EMPTY = { hash: emptyHash(), sizeBytes: 0 };

describe('decodeValidActionResult', () => {
  it('accepts what Bazel writes: files (empty, executable), trees, directories, symlinks, stdout/stderr', () => {
    const bytes = encode({
      outputFiles: [
        { path: 'bazel-out/k8-fastbuild/bin/app', digest: d('binary'), isExecutable: true },
        { path: 'bazel-out/k8-fastbuild/bin/empty.txt', digest: EMPTY },
        { path: 'bazel-out/k8-fastbuild/bin/a..b/...', digest: d('dots inside names') },
      ],
      outputDirectories: [
        { path: 'bazel-out/k8-fastbuild/bin/gen', treeDigest: d('tree'), isTopologicallySorted: true },
        { path: '', rootDirectoryDigest: d('working directory') },
      ],
      outputFileSymlinks: [{ path: 'bazel-out/k8-fastbuild/bin/link', target: '../elsewhere/file' }],
      outputDirectorySymlinks: [{ path: 'bazel-out/k8-fastbuild/bin/dirlink', target: '/absolute/target' }],
      outputSymlinks: [{ path: 'bazel-out/k8-fastbuild/bin/sym', target: 'app' }],
      exitCode: 0,
      stdoutDigest: d('stdout'),
      stderrDigest: d('stderr'),
      executionMetadata: { worker: 'bazel' },
    });
    const ar = decodeValidActionResult(bytes);
    assert.equal(ar.outputFiles?.length, 3);
  });

  it('accepts an empty result, and an output file whose bytes are inline instead of a digest', () => {
    decodeValidActionResult(Buffer.alloc(0));
    decodeValidActionResult(encode({ outputFiles: [{ path: 'x', contents: Buffer.from('inline') }] }));
  });

  it('refuses bytes that are not an ActionResult', () => {
    assert.throws(
      () => decodeValidActionResult(Buffer.from([0xff, 0xff, 0xff, 0xff])),
      (err: unknown) => isHoardError(err, 'invalid_argument') && /not a valid ActionResult/.test(err.message),
    );
  });

  const badHash = { hash: 'zz', sizeBytes: 1 };
  const refusals: [string, object, RegExp][] = [
    ['an empty output file path', { outputFiles: [{ path: '', digest: d('x') }] }, /output_files\[0\]\.path/],
    [
      'an absolute output file path',
      { outputFiles: [{ path: '/etc/passwd', digest: d('x') }] },
      /output_files\[0\]\.path/,
    ],
    [
      'a ".." in an output file path',
      { outputFiles: [{ path: 'a/../../b', digest: d('x') }] },
      /output_files\[0\]\.path/,
    ],
    [
      'an output file path of ".."',
      {
        outputFiles: [
          { path: 'ok', digest: d('x') },
          { path: '..', digest: d('y') },
        ],
      },
      /output_files\[1\]\.path/,
    ],
    [
      'an output file without digest or contents',
      { outputFiles: [{ path: 'a' }] },
      /output_files\[0\]\.digest is missing/,
    ],
    [
      'a malformed output file hash',
      { outputFiles: [{ path: 'a', digest: badHash }] },
      /output_files\[0\]\.digest: invalid sha256 hash/,
    ],
    [
      'an upper-case output file hash',
      { outputFiles: [{ path: 'a', digest: { hash: d('x').hash.toUpperCase(), sizeBytes: 1 } }] },
      /output_files\[0\]\.digest/,
    ],
    [
      'a negative output file size',
      { outputFiles: [{ path: 'a', digest: { hash: d('x').hash, sizeBytes: -1 } }] },
      /output_files\[0\]\.digest: invalid digest size/,
    ],
    [
      'size 0 with a non-empty hash',
      { outputFiles: [{ path: 'a', digest: { hash: d('x').hash, sizeBytes: 0 } }] },
      /output_files\[0\]\.digest: .*empty blob/,
    ],
    [
      'inline contents beside a malformed digest',
      { outputFiles: [{ path: 'a', contents: Buffer.from('c'), digest: badHash }] },
      /output_files\[0\]\.digest/,
    ],
    [
      'an absolute output directory path',
      { outputDirectories: [{ path: '/out', treeDigest: d('t') }] },
      /output_directories\[0\]\.path/,
    ],
    [
      'a ".." in an output directory path',
      { outputDirectories: [{ path: 'gen/..', treeDigest: d('t') }] },
      /output_directories\[0\]\.path/,
    ],
    [
      'an output directory without tree or root digest',
      { outputDirectories: [{ path: 'gen' }] },
      /output_directories\[0\] has neither tree_digest nor root_directory_digest/,
    ],
    [
      'a malformed tree digest',
      { outputDirectories: [{ path: 'gen', treeDigest: badHash }] },
      /output_directories\[0\]\.tree_digest/,
    ],
    [
      'a malformed root directory digest',
      { outputDirectories: [{ path: 'gen', rootDirectoryDigest: badHash }] },
      /output_directories\[0\]\.root_directory_digest/,
    ],
    ['an empty output symlink path', { outputSymlinks: [{ path: '', target: 'x' }] }, /output_symlinks\[0\]\.path/],
    [
      'an absolute output file symlink path',
      { outputFileSymlinks: [{ path: '/x', target: 'y' }] },
      /output_file_symlinks\[0\]\.path/,
    ],
    [
      'a ".." in an output directory symlink path',
      { outputDirectorySymlinks: [{ path: '../x', target: 'y' }] },
      /output_directory_symlinks\[0\]\.path/,
    ],
    ['a malformed stdout digest', { stdoutDigest: badHash }, /stdout_digest: invalid sha256 hash/],
    ['a stderr digest without a hash', { stderrDigest: { sizeBytes: 3 } }, /stderr_digest: invalid sha256 hash/],
  ];
  for (const [name, fields, message] of refusals) {
    it(`refuses ${name} (InvalidArgument naming the field)`, () => {
      const check = (err: unknown): boolean => isHoardError(err, 'invalid_argument') && message.test(err.message);
      // As the Bazel HTTP frontend sees it (encoded) and as REAPI does (a decoded message).
      const bytes = encode(fields);
      assert.throws(() => decodeValidActionResult(bytes), check);
      const decoded = protoType(`${REAPI}.ActionResult`).decode(bytes) as ActionResultMessage;
      assert.throws(() => validateActionResult(decoded), check);
    });
  }
});

describe('checkEncodedActionResultSize', () => {
  it(`takes ${MAX_ENCODED_ACTION_RESULT_BYTES} bytes and refuses one more as too_large`, () => {
    checkEncodedActionResultSize(MAX_ENCODED_ACTION_RESULT_BYTES);
    assert.throws(
      () => checkEncodedActionResultSize(MAX_ENCODED_ACTION_RESULT_BYTES + 1),
      (err: unknown) => isHoardError(err, 'too_large') && /16777217 bytes exceeds 16777216/.test(err.message),
    );
  });
});
