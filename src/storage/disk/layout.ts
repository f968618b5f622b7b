// Where things live in a store directory:
//   LOCK                      owner pid (dir-lock.ts)
//   journal                   the index journal (journal.ts)
//   segments/00000001.seg     append-only data of small entries, packed back to back
//   blobs/ab/<slot hex>-<gen> large entries, one file each; <gen> makes every version's
//                             name unique, so removing an old version never hits a new one
//   tmp/                      uploads in progress; emptied on open (crash debris)
//   quarantine/               what fsck moved aside
//   spare                     1 MiB kept for a full disk (file-system-bound.ts)
import path from 'node:path';

export function journalPath(dir: string): string {
  return path.join(dir, 'journal');
}
export function segmentsDir(dir: string): string {
  return path.join(dir, 'segments');
}
export function segmentPath(dir: string, id: number): string {
  return path.join(segmentsDir(dir), `${id.toString().padStart(8, '0')}.seg`);
}
export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{8,10})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
export function blobsDir(dir: string): string {
  return path.join(dir, 'blobs');
}
export function blobPath(dir: string, slot: Uint8Array, generation: number): string {
  const hex = Buffer.from(slot).toString('hex');
  return path.join(dir, 'blobs', hex.slice(0, 2), `${hex}-${generation}`);
}
export function tmpDir(dir: string): string {
  return path.join(dir, 'tmp');
}
export function sparePath(dir: string): string {
  return path.join(dir, 'spare');
}
export function quarantineDir(dir: string): string {
  return path.join(dir, 'quarantine');
}
/** Files count in whole 4 KiB blocks, as the file system stores them. */
export function diskFootprint(bytes: number): number {
  return Math.ceil(bytes / 4096) * 4096;
}
