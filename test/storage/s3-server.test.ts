import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startS3Server, type S3TestServer } from '../fixtures/s3-server.js';

const BUCKET = 'fixture';

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** A PUT with a hand-made aws-chunked body; s3rver checks the key id, not v4 signatures. */
function putAwsChunked(endpoint: string, key: string, chunks: string[], signed: boolean): Promise<number> {
  const extension = signed ? `;chunk-signature=${'0'.repeat(64)}` : '';
  const framed =
    chunks.map((chunk) => `${Buffer.byteLength(chunk).toString(16)}${extension}\r\n${chunk}\r\n`).join('') +
    `0${extension}\r\n` +
    (signed ? '\r\n' : 'x-amz-checksum-crc32:AAAAAA==\r\n\r\n');
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/${BUCKET}/${key}`, {
      method: 'PUT',
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=S3RVER/${date.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
        'x-amz-date': date,
        'x-amz-content-sha256': signed ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(chunks.join('').length),
        ...(signed ? {} : { 'x-amz-trailer': 'x-amz-checksum-crc32' }),
        'content-length': Buffer.byteLength(framed),
      },
    });
    req.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(framed);
  });
}

describe('s3 test server', () => {
  let server: S3TestServer;
  let client: S3Client;

  before(async () => {
    server = await startS3Server({ bucket: BUCKET });
    client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    });
  });
  after(async () => {
    client.destroy();
    await server.dispose();
  });

  const get = async (key: string): Promise<{ text: string; etag?: string; encoding?: string }> => {
    const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { text: await result.Body!.transformToString(), etag: result.ETag, encoding: result.ContentEncoding };
  };

  it('creates with If-None-Match: * only when the object is absent', async () => {
    const created = await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/a', Body: 'one', IfNoneMatch: '*' }));
    assert.ok(created.ETag);
    await assert.rejects(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/a', Body: 'two', IfNoneMatch: '*' })),
      (error) => statusOf(error) === 412 && (error as Error).name === 'PreconditionFailed',
    );
    assert.equal((await get('cond/a')).text, 'one');
  });

  it('replaces with If-Match only when the ETag is current', async () => {
    const first = await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/b', Body: 'one' }));
    const second = await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/b', Body: 'two', IfMatch: first.ETag }),
    );
    assert.notEqual(second.ETag, first.ETag);
    await assert.rejects(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/b', Body: 'three', IfMatch: first.ETag })),
      (error) => statusOf(error) === 412,
    );
    await assert.rejects(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/missing', Body: 'x', IfMatch: first.ETag })),
      (error) => statusOf(error) === 404,
    );
    assert.deepEqual(await get('cond/b'), { text: 'two', etag: second.ETag, encoding: undefined });
  });

  it('lets exactly one of many racing conditional creates win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, index) =>
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/race', Body: `w${index}`, IfNoneMatch: '*' })),
      ),
    );
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
    for (const result of results) {
      if (result.status === 'rejected') assert.equal(statusOf(result.reason), 412);
    }
  });

  it('honours conditions on a multipart upload', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cond/multi', Body: 'exists' }));
    const upload = new Upload({
      client,
      params: { Bucket: BUCKET, Key: 'cond/multi', Body: randomBytes(6 * 1024 * 1024), IfNoneMatch: '*' },
      partSize: 5 * 1024 * 1024,
    });
    await assert.rejects(upload.done(), (error) => statusOf(error) === 412);
    assert.equal((await get('cond/multi')).text, 'exists');
  });

  for (const signed of [false, true]) {
    it(`decodes an aws-chunked body (${signed ? 'signed chunks' : 'unsigned, with trailer'})`, async () => {
      const key = `chunked/${signed ? 'signed' : 'unsigned'}`;
      assert.equal(await putAwsChunked(server.endpoint, key, ['hello', ' chunked ', 'world'], signed), 200);
      assert.deepEqual(await get(key), {
        text: 'hello chunked world',
        etag: (await get(key)).etag,
        encoding: undefined,
      });
    });
  }

  it('stores the SDK default (flexible checksum) stream upload as sent', async () => {
    const body = randomBytes(200_000);
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'sdk/stream', Body: Readable.from([body]), ContentLength: body.length }),
    );
    const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sdk/stream' }));
    assert.ok(body.equals(Buffer.from(await result.Body!.transformToByteArray())));
  });

  it('assembles a multipart upload', async () => {
    const body = randomBytes(11 * 1024 * 1024);
    await new Upload({ client, params: { Bucket: BUCKET, Key: 'multi/big', Body: Readable.from([body]) } }).done();
    const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'multi/big' }));
    assert.ok(body.equals(Buffer.from(await result.Body!.transformToByteArray())));
  });

  it('pages ListObjectsV2 with continuation tokens', async () => {
    for (let index = 0; index < 23; index++) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `page/${String(index).padStart(2, '0')}`, Body: 'x' }));
    }
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', MaxKeys: 10, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(keys.length, 23);
    assert.deepEqual(keys, [...keys].sort());
  });

  it('keeps its data across stop and start on the same endpoint', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'restart/a', Body: 'kept' }));
    await server.stop();
    await assert.rejects(
      new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
      }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'restart/a' })),
    );
    await server.start();
    assert.equal((await get('restart/a')).text, 'kept');
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'restart/a' }));
  });
});
