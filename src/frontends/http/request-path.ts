// Splits a request target into decoded path segments, refusing anything that could name
// a different place than it seems to (rule 7): `.`/`..` segments in any encoding, encoded
// slashes and backslashes, NUL and other control characters, empty interior segments.
// The segments are only ever used as key parts, never as file names, but a path the
// server would have to interpret is refused rather than guessed at.
import { ErrorCode, HoardError } from '../../core/errors.ts';

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/;

/**
 * Whether `value` could stand as one decoded path segment: not `.` or `..`, no slash,
 * backslash or control character. For names that become namespaces outside the path (a
 * Turborepo team in the query).
 */
export function isPlainSegment(value: string): boolean {
  return value !== '.' && value !== '..' && !FORBIDDEN.test(value);
}

function invalid(why: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, `malformed request path: ${why}`);
}

/** The decoded segments of `target` (query dropped). Throws InvalidArgument. */
export function parsePathSegments(target: string): string[] {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (path.charCodeAt(0) !== 0x2f /* / */) throw invalid('it must start with /');
  if (path.includes('\\')) throw invalid('backslashes are not allowed');
  const parts = path.split('/');
  const segments: string[] = [];
  // parts[0] is the empty string before the leading slash; a trailing slash leaves one more.
  const last = parts.length - 1;
  for (let i = 1; i <= last; i++) {
    let seg = parts[i]!;
    if (seg === '') {
      if (i === last) break;
      throw invalid('empty path segment (//)');
    }
    if (seg.includes('%')) {
      try {
        seg = decodeURIComponent(seg);
      } catch {
        throw invalid('bad percent-encoding');
      }
    }
    if (seg === '.' || seg === '..') throw invalid('. and .. segments are not allowed');
    if (FORBIDDEN.test(seg)) throw invalid('encoded slashes, backslashes and control characters are not allowed');
    segments.push(seg);
  }
  return segments;
}
