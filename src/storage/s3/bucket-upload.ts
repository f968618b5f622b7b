// One object's upload, fed a put's chunks as they arrive (the sink of core/receive.ts) and
// published only once the whole body has been received and verified (rule 1).
//
// - A body of up to SINGLE_PUT_MAX_BYTES is kept in memory and sent with one PutObject after
//   the verdict: S3 publishes an object whole or not at all.
// - A larger body becomes a multipart upload: parts of exactly PART_BYTES leave as soon as
//   they are full, one uploading while the next fills (so at most two parts in memory,
//   whatever the body's size), the last part at the end. The upload is completed only after
//   receive() has checked the size and the hash; on any failure it is aborted, so nothing
//   partial or unverified ever becomes visible. An upload that cannot even be aborted (the
//   bucket went away) stays invisible: only CompleteMultipartUpload publishes; a bucket
//   lifecycle rule (AbortIncompleteMultipartUpload) reclaims its parts.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { codeOf, s3Error, statusOf } from './s3-errors.ts';

/** Bodies up to this size go in one PutObject. */
export const SINGLE_PUT_MAX_BYTES = 8 * 1024 * 1024;
/** Multipart part size (S3: 5 MiB..5 GiB, at most 10,000 parts: objects up to 80 GB). */
export const PART_BYTES = 8 * 1024 * 1024;

export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** `If-None-Match: *` on a single PutObject: a present object answers 412 (`exists`). */
  readonly ifAbsent: boolean;
  readonly signal?: AbortSignal;
}

export class BucketUpload {
  readonly #target: UploadTarget;
  /** Received bytes not yet in a part, in order. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #uploadId: string | undefined;
  readonly #parts: CompletedPart[] = [];
  /** The part upload in flight, if any; a failure is read when the next part waits for it. */
  #uploading: Promise<void> | undefined;
  /** The body of a single PutObject, kept for replace(). */
  #single: Uint8Array | undefined;

  constructor(target: UploadTarget) {
    this.#target = target;
  }

  /** The sink for receive(): takes a chunk, sending full parts (awaited: back-pressure). */
  async take(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    while (this.#pendingBytes > PART_BYTES) await this.#sendPart(this.#cut(PART_BYTES));
  }

  /**
   * Publishes the received bytes; call only once receive() has verified them all.
   * Resolves `exists` when `ifAbsent` found the object there already.
   */
  async publish(): Promise<'created' | 'exists'> {
    const rest = this.#cut(this.#pendingBytes);
    const { client, bucket, key, signal } = this.#target;
    if (this.#uploadId === undefined) {
      this.#single = rest;
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: rest,
            ContentLength: rest.byteLength,
            ContentType: 'application/octet-stream',
            IfNoneMatch: this.#target.ifAbsent ? '*' : undefined,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (this.#target.ifAbsent && (statusOf(err) === 412 || codeOf(err) === 'PreconditionFailed')) return 'exists';
        throw s3Error(err, bucket, `PutObject ${key}`, signal?.aborted);
      }
      return 'created';
    }
    if (rest.byteLength > 0) await this.#sendPart(rest);
    await this.#settlePart();
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.#uploadId,
          MultipartUpload: { Parts: this.#parts },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw s3Error(err, bucket, `CompleteMultipartUpload ${key}`, signal?.aborted);
    }
    this.#uploadId = undefined;
    return 'created';
  }

  /**
   * After a single PutObject answered `exists`: sends the same verified bytes again without
   * the condition, replacing what is there (bytes of another size under a CAS key).
   */
  async replace(): Promise<void> {
    const body = this.#single;
    if (body === undefined) throw new Error('replace() follows a single PutObject only');
    const { client, bucket, key, signal } = this.#target;
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: 'application/octet-stream',
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw s3Error(err, bucket, `PutObject ${key}`, signal?.aborted);
    }
  }

  /**
   * Drops everything: waits for a part still uploading, then aborts the multipart upload
   * (with no signal: the caller's may be what failed the put). Never throws.
   */
  async discard(): Promise<void> {
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#uploading?.catch(() => undefined);
    const uploadId = this.#uploadId;
    this.#uploadId = undefined;
    if (uploadId === undefined) return;
    const { client, bucket, key } = this.#target;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  /** The first `bytes` pending bytes as one buffer. */
  #cut(bytes: number): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const head = this.#pending[0]!;
      const take = Math.min(head.byteLength, bytes - filled);
      out.set(take === head.byteLength ? head : head.subarray(0, take), filled);
      filled += take;
      if (take === head.byteLength) this.#pending.shift();
      else this.#pending[0] = head.subarray(take);
    }
    this.#pendingBytes -= bytes;
    return out;
  }

  /** Starts uploading `part` once the previous part is done (its failure fails this call). */
  async #sendPart(part: Buffer): Promise<void> {
    await this.#settlePart();
    const { client, bucket, key, signal } = this.#target;
    if (this.#uploadId === undefined) {
      try {
        const created = await client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream' }),
          { abortSignal: signal },
        );
        this.#uploadId = created.UploadId;
      } catch (err) {
        throw s3Error(err, bucket, `CreateMultipartUpload ${key}`, signal?.aborted);
      }
      if (this.#uploadId === undefined) throw s3Error(new Error('no UploadId'), bucket, `CreateMultipartUpload ${key}`);
    }
    const partNumber = this.#parts.length + 1;
    const slot: CompletedPart = { PartNumber: partNumber };
    this.#parts.push(slot);
    const uploading = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.#uploadId,
          PartNumber: partNumber,
          Body: part,
          ContentLength: part.byteLength,
        }),
        { abortSignal: signal },
      )
      .then(
        (out) => {
          slot.ETag = out.ETag;
        },
        (err: unknown) => {
          throw s3Error(err, bucket, `UploadPart ${partNumber} of ${key}`, signal?.aborted);
        },
      );
    uploading.catch(() => undefined); // read by the next #settlePart(), or by discard()
    this.#uploading = uploading;
  }

  async #settlePart(): Promise<void> {
    const uploading = this.#uploading;
    this.#uploading = undefined;
    await uploading;
  }
}
