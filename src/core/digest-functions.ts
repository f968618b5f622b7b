// REAPI's DigestFunction.Value enum by number, lower-case as resource names spell them
// (`blobs/sha1/...`); upper-case, they are the enum's names (docs/PROTOCOLS.md §2.3). One
// list for the server (refusals that name the function) and the client (capabilities).
export const DIGEST_FUNCTION_NAMES: readonly string[] = [
  'unknown',
  'sha256',
  'sha1',
  'md5',
  'vso',
  'sha384',
  'sha512',
  'murmur3',
  'sha256tree',
  'blake3',
  'gitsha1',
];
