import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import request from 'supertest';
import { bearer, testJwtEnv } from '@ecom/test-support';
import { buildGateway, loadGatewayConfig, type Gateway } from '@ecom/gateway';
import { createLogger } from '@ecom/common/logging';
import { ImageService } from '../src/application/images';
import { sharpImageProcessor } from '../src/media/sharp-processor';
import { diskImageStorage } from '../src/media/disk-storage';
import { createStores } from '../src/store';
import {
  admin,
  customer,
  otherSeller,
  seller,
  startHarness,
  type Harness,
} from './support/helpers';
import { startTestS3, type TestS3 } from './support/s3-server';

/**
 * Product images on both stores: the local disk and a real S3-compatible server (s3rver)
 * reached through @aws-sdk/client-s3. Ports 32100-32129.
 */

const LIMITS = { IMAGE_MAX_BYTES: '262144', IMAGE_MAX_PIXELS: '4000000', IMAGES_PER_PRODUCT: '3' };

const solid = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 60, b: 40 } } });

/** A JPEG that carries a camera owner and a GPS position in its EXIF. */
const jpegWithGps = () =>
  solid(1600, 1200)
    .jpeg()
    .withExif({
      IFD0: { Copyright: 'Secret Owner', Make: 'PhoneCo' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2928/100' },
    })
    .toBuffer();
const png = () => solid(2000, 1000).png().toBuffer();
const webp = () => solid(100, 80).webp().toBuffer();
/** Noise does not compress: a PNG of ~480 kB, over the 256 kB limit. */
const bigPng = () =>
  sharp(randomBytes(400 * 400 * 3), { raw: { width: 400, height: 400, channels: 3 } })
    .png()
    .toBuffer();
/** Noise PNG of side `side`: about 3 × side² bytes. */
const noisePng = (side: number) =>
  sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
/** A few kB that decode to 9 million pixels (the limit is 4 million). */
const pixelBomb = () => solid(3000, 3000).png({ compressionLevel: 9 }).toBuffer();
const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(200)]);
const pngMagicThenGarbage = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  randomBytes(500),
]);

interface Store {
  name: string;
  env: Record<string, string>;
  /** Keys of the objects under a prefix, read without the service's adapter. */
  keys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

async function diskStore(): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'product-images-'));
  return {
    name: 'disk',
    env: { IMAGE_DIR: dir },
    async keys(prefix) {
      const root = path.join(dir, prefix);
      if (!fs.existsSync(root)) return [];
      return (fs.readdirSync(root, { recursive: true }) as string[])
        .filter((f) => fs.statSync(path.join(root, f)).isFile())
        .map((f) => `${prefix}${f.split(path.sep).join('/')}`)
        .sort();
    },
    close: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

async function s3Store(port: number): Promise<Store & { s3: TestS3 }> {
  const s3 = await startTestS3(port);
  const bucket = 'product-images-test';
  return {
    name: 's3',
    s3,
    env: s3.env(bucket),
    keys: (prefix) => s3.keys(bucket, prefix),
    close: () => s3.close(),
  };
}

describe.each([
  ['disk', 32101, () => diskStore()],
  ['s3', 32102, () => s3Store(32103)],
] as const)('product images on the %s store', (_name, port, openStore) => {
  let store: Store;
  let h: Harness;
  const api = () => request(h.service.url);

  beforeAll(async () => {
    store = await openStore();
    h = await startHarness(`product_images_${_name}`, {
      ...store.env,
      ...LIMITS,
      PORT: String(port),
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await store?.close();
  });

  async function newProduct(owner = seller): Promise<string> {
    const res = await api()
      .post('/api/products')
      .set('Authorization', bearer(owner))
      .send({ name: 'Camera', price: 99.5, inventory: 3 });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  const upload = (id: string, bytes: Buffer, type = 'application/octet-stream', as = seller) =>
    api()
      .post(`/api/products/${id}/images`)
      .set('Authorization', bearer(as))
      .set('Content-Type', type)
      .send(bytes);

  /**
   * The bytes exactly as given, whatever the headers say (supertest would serialise a Buffer
   * declared as JSON into JSON text).
   */
  async function postBytes(
    id: string,
    bytes: Buffer,
    headers: Record<string, string>,
    as: typeof seller | null = seller,
  ) {
    const res = await fetch(`${h.service.url}/api/products/${id}/images`, {
      method: 'POST',
      headers: { ...headers, ...(as ? { Authorization: bearer(as) } : {}) },
      body: bytes,
    });
    const body = (await res.json()) as {
      error?: { code: string; message: string; requestId: string };
    };
    return { status: res.status, body };
  }

  const fetchVariant = (url: string) =>
    api()
      .get(url)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });

  it('a JPEG becomes WebP variants with EXIF and GPS gone, whatever type it was sent as', async () => {
    const id = await newProduct();
    const original = await jpegWithGps();
    // The fixture really carries what must be stripped.
    const before = await sharp(original).metadata();
    expect(before.exif?.toString('latin1')).toContain('Secret Owner');

    const res = await upload(id, original, 'text/plain');
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/products/${id}/images/${res.body.id}`);
    expect(res.body).toMatchObject({
      width: 1600,
      height: 1200,
      variants: {
        thumb: { width: 160, height: 120 },
        medium: { width: 640, height: 480 },
        large: { width: 1280, height: 960 },
      },
    });
    for (const [name, variant] of Object.entries(res.body.variants) as [
      string,
      { url: string; width: number },
    ][]) {
      expect(variant.url).toBe(`/api/products/${id}/images/${res.body.id}/${name}`);
      const served = await fetchVariant(variant.url);
      expect(served.status).toBe(200);
      expect(served.headers['content-type']).toBe('image/webp');
      const meta = await sharp(served.body as Buffer).metadata();
      expect(meta).toMatchObject({ format: 'webp', width: variant.width });
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect((served.body as Buffer).toString('latin1')).not.toContain('Secret Owner');
    }
    expect(await store.keys(`products/${id}/`)).toEqual(
      ['large', 'medium', 'thumb'].map((v) => `products/${id}/${res.body.id}/${v}.webp`),
    );
  });

  it('PNG and WebP are accepted; small images are not enlarged; the product carries the URLs', async () => {
    const id = await newProduct();
    const fromPng = await upload(id, await png(), 'image/png');
    expect(fromPng.status).toBe(201);
    expect(fromPng.body.variants.large).toMatchObject({ width: 1280, height: 640 });
    const fromWebp = await upload(id, await webp(), 'image/webp');
    expect(fromWebp.status).toBe(201);
    expect(fromWebp.body.variants.large).toMatchObject({ width: 100, height: 80 });
    expect(fromWebp.body.variants.thumb).toMatchObject({ width: 100, height: 80 });

    const product = await api().get(`/api/products/${id}`);
    expect(product.status).toBe(200);
    expect(product.body.images.map((i: { id: string }) => i.id)).toEqual([
      fromPng.body.id,
      fromWebp.body.id,
    ]);
    expect(product.body.images[1].variants.medium.url).toBe(
      `/api/products/${id}/images/${fromWebp.body.id}/medium`,
    );
    const listed = await api().get(`/api/products?sellerId=${seller.id}&limit=100`);
    const inList = listed.body.items.find((p: { id: string }) => p.id === id);
    expect(inList.images).toHaveLength(2);
    const images = await api().get(`/api/products/${id}/images`);
    expect(images.body).toEqual(product.body.images);
    const one = await api().get(`/api/products/${id}/images/${fromPng.body.id}`);
    expect(one.body).toEqual(product.body.images[0]);

    // The same bytes again: the image already there, nothing new.
    const again = await upload(id, await webp());
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(fromWebp.body.id);
    expect(await store.keys(`products/${id}/`)).toHaveLength(6);
  });

  it.each([
    ['text sent as image/png', 415, Buffer.from('hello, I am not a picture at all'), 'image/png'],
    ['an executable sent as image/png', 415, elf, 'image/png'],
    ['a GIF', 415, Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), 'image/gif'],
    ['a multipart form', 415, Buffer.from('--x\r\n\r\n--x--'), 'multipart/form-data; boundary=x'],
    ['JSON', 415, Buffer.from('{"image":"x"}'), 'application/json'],
    ['PNG magic over garbage', 422, pngMagicThenGarbage, 'image/png'],
    ['an empty body', 415, Buffer.alloc(0), 'image/png'],
  ] as const)('%s is refused (%d) and nothing is kept', async (_label, status, bytes, type) => {
    const id = await newProduct();
    const res = await upload(id, bytes, type);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'INVALID_IMAGE');
    expect((await api().get(`/api/products/${id}`)).body.images).toEqual([]);
    expect(await store.keys(`products/${id}/`)).toEqual([]);
  });

  it('JSON text is refused with 415 naming the image types, after the owner check', async () => {
    const body = Buffer.from('{"image":"x"}');
    const id = await newProduct();
    const headers = { 'Content-Type': 'application/json' };
    // Who asks is still checked first, as for any other upload.
    expect((await postBytes(id, body, headers, otherSeller)).status).toBe(403);
    expect((await postBytes(id, body, headers, null)).status).toBe(401);
    const res = await postBytes(id, body, headers);
    expect(res.status).toBe(415);
    expect(res.body.error).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: expect.stringMatching(/image\/jpeg, image\/png or image\/webp/),
      requestId: expect.any(String),
    });
    expect(await store.keys(`products/${id}/`)).toEqual([]);
  });

  // Bytes labelled JSON meet the service's JSON parser first, as on every route: its verdict is
  // the answer (a 4xx in the common shape), and nothing is kept.
  it.each([
    ['a JPEG', 'application/json', 400, 'MALFORMED_JSON', () => jpegWithGps()],
    [
      'a PNG over BODY_LIMIT (100 kB)',
      'application/json',
      413,
      'PAYLOAD_TOO_LARGE',
      () => noisePng(200),
    ],
    ['a PNG', 'application/json; charset=utf-16', 415, 'UNSUPPORTED_ENCODING', () => png()],
  ] as const)(
    '%s sent as %s is refused by the JSON parser (%d %s), nothing kept',
    async (_label, type, status, code, bytes) => {
      const id = await newProduct();
      const res = await postBytes(id, await bytes(), { 'Content-Type': type });
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code, requestId: expect.any(String) });
      expect((await api().get(`/api/products/${id}`)).body.images).toEqual([]);
      expect(await store.keys(`products/${id}/`)).toEqual([]);
    },
  );

  it.each([
    ['a gzipped JPEG', 'gzip', 'image/jpeg', async () => gzipSync(await jpegWithGps())],
    ['a plain PNG labelled gzip', 'gzip', 'image/png', () => png()],
    ['a plain PNG labelled br', 'br', 'image/png', () => png()],
  ])(
    '%s (Content-Encoding: %s) is refused with 415: images are sent without content-coding',
    async (_label, encoding, type, bytes) => {
      const id = await newProduct();
      const res = await postBytes(id, await bytes(), {
        'Content-Type': type,
        'Content-Encoding': encoding,
      });
      expect(res.status).toBe(415);
      expect(res.body.error?.code).toBe('UNSUPPORTED_ENCODING');
      expect(res.body.error?.message).toMatch(/without content-coding/);
      expect((await api().get(`/api/products/${id}`)).body.images).toEqual([]);
      expect(await store.keys(`products/${id}/`)).toEqual([]);
    },
  );

  it('an image with Content-Encoding: identity (no coding) is taken', async () => {
    const id = await newProduct();
    const res = await postBytes(id, await png(), {
      'Content-Type': 'image/png',
      'Content-Encoding': 'identity',
    });
    expect(res.status).toBe(201);
  });

  it('a body over IMAGE_MAX_BYTES is refused with 413, declared or chunked', async () => {
    const id = await newProduct();
    const big = await bigPng();
    expect(big.length).toBeGreaterThan(262_144);
    const declared = await upload(id, big, 'image/png');
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const chunked = await sendChunked(
      `${h.service.url}/api/products/${id}/images`,
      bearer(seller),
      big,
    );
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await store.keys(`products/${id}/`)).toEqual([]);
  });

  it('an image of more pixels than IMAGE_MAX_PIXELS is refused before decoding', async () => {
    const id = await newProduct();
    const bomb = await pixelBomb();
    expect(bomb.length).toBeLessThan(262_144);
    const res = await upload(id, bomb, 'image/png');
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'INVALID_IMAGE' });
    expect(res.body.error.message).toMatch(/3000×3000/);
  });

  it('only the seller or an admin uploads or deletes; others get 403, unknown products 404', async () => {
    const id = await newProduct();
    const bytes = await webp();
    expect((await upload(id, bytes, 'image/webp', otherSeller)).status).toBe(403);
    expect((await upload(id, bytes, 'image/webp', customer)).status).toBe(403);
    expect((await upload('0123456789abcdef01234567', bytes)).status).toBe(404);
    const anonymous = await api().post(`/api/products/${id}/images`).send(bytes);
    expect(anonymous.status).toBe(401);
    expect(await store.keys(`products/${id}/`)).toEqual([]);

    const byAdmin = await upload(id, bytes, 'image/webp', admin);
    expect(byAdmin.status).toBe(201);
    const url = `/api/products/${id}/images/${byAdmin.body.id}`;
    const refused = await api().delete(url).set('Authorization', bearer(otherSeller));
    expect(refused.status).toBe(403);
    expect(await store.keys(`products/${id}/`)).toHaveLength(3);
  });

  it('variants are served with immutable cache headers and an ETag; 304 when unchanged', async () => {
    const id = await newProduct();
    const up = await upload(id, await png());
    const url = up.body.variants.thumb.url as string;
    const res = await fetchVariant(url);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers.etag).toBe(`"${up.body.id}-thumb"`);
    expect(Number(res.headers['content-length'])).toBe((res.body as Buffer).length);
    const again = await api().get(url).set('If-None-Match', res.headers.etag!);
    expect(again.status).toBe(304);
    expect((await api().get(`/api/products/${id}/images/${up.body.id}/huge`)).status).toBe(400);
    const unknown = await api().get(`/api/products/${id}/images/${'0'.repeat(32)}/thumb`);
    expect(unknown.status).toBe(404);
    for (const odd of ['a%20b', 'x_y.z', id.toUpperCase()]) {
      const res = await api().get(`/api/products/${odd}/images/${up.body.id}/thumb`);
      expect({ odd, status: res.status }).toEqual({
        odd,
        status: odd === id.toUpperCase() ? 200 : 404,
      });
    }
  });

  it('deleting an image deletes its objects; the product no longer lists it', async () => {
    const id = await newProduct();
    const keep = await upload(id, await webp());
    const gone = await upload(id, await png());
    const res = await api()
      .delete(`/api/products/${id}/images/${gone.body.id}`)
      .set('Authorization', bearer(seller));
    expect(res.status).toBe(204);
    expect(await store.keys(`products/${id}/`)).toEqual(
      ['large', 'medium', 'thumb'].map((v) => `products/${id}/${keep.body.id}/${v}.webp`),
    );
    expect((await fetchVariant(gone.body.variants.thumb.url)).status).toBe(404);
    const product = await api().get(`/api/products/${id}`);
    expect(product.body.images.map((i: { id: string }) => i.id)).toEqual([keep.body.id]);
    const twice = await api()
      .delete(`/api/products/${id}/images/${gone.body.id}`)
      .set('Authorization', bearer(seller));
    expect(twice.status).toBe(404);
  });

  it('a product holds IMAGES_PER_PRODUCT images at most; a refused one leaves no object', async () => {
    const id = await newProduct();
    for (const side of [50, 60, 70]) {
      expect((await upload(id, await solid(side, side).png().toBuffer())).status).toBe(201);
    }
    const fourth = await upload(id, await solid(80, 80).png().toBuffer());
    expect(fourth.status).toBe(422);
    expect(fourth.body.error.code).toBe('IMAGE_LIMIT_REACHED');
    expect(await store.keys(`products/${id}/`)).toHaveLength(9);
  });

  it('deleting the product deletes every object of its images', async () => {
    const id = await newProduct();
    const up = await upload(id, await jpegWithGps());
    await upload(id, await webp());
    expect(await store.keys(`products/${id}/`)).toHaveLength(6);
    const res = await api().delete(`/api/products/${id}`).set('Authorization', bearer(seller));
    expect(res.status).toBe(204);
    expect(await store.keys(`products/${id}/`)).toEqual([]);
    expect((await fetchVariant(up.body.variants.large.url)).status).toBe(404);
    expect((await api().get(`/api/products/${id}/images`)).status).toBe(404);
  });

  it('concurrent uploads to one product stay within the limit and leave no orphan', async () => {
    const id = await newProduct();
    const bodies = await Promise.all(
      [21, 22, 23, 24, 25].map((side) => solid(side, side).png().toBuffer()),
    );
    const results = await Promise.all(bodies.map((b) => upload(id, b)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 422)).toHaveLength(2);
    const product = await api().get(`/api/products/${id}`);
    expect(product.body.images).toHaveLength(3);
    const recorded = product.body.images.map((i: { id: string }) => i.id) as string[];
    expect(await store.keys(`products/${id}/`)).toEqual(
      recorded
        .flatMap((image) =>
          ['large', 'medium', 'thumb'].map((v) => `products/${id}/${image}/${v}.webp`),
        )
        .sort(),
    );
  });
});

describe('an upload that fails midway', () => {
  let h: Harness;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'product-images-fail-'));
  beforeAll(async () => {
    h = await startHarness('product_images_failure', { IMAGE_DIR: dir, PORT: '32104' });
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('removes the objects it had written and records nothing', async () => {
    const disk = diskImageStorage(dir);
    let puts = 0;
    // The real disk store, failing on the third object (a full disk, a lost connection).
    const failing = {
      ...disk,
      async put(key: string, bytes: Buffer, type: string) {
        puts += 1;
        if (puts === 3) throw new Error('disk full');
        await disk.put(key, bytes, type);
      },
    };
    const stores = await createStores(h.service.connection, 'regex');
    const images = new ImageService({
      products: stores.catalog,
      storage: failing,
      process: sharpImageProcessor({ maxBytes: 1_000_000, maxPixels: 4_000_000 }),
      cache: { productChanged: async () => {}, catalogChanged: async () => {} },
      maxPerProduct: 3,
      logger: createLogger('test', 'silent'),
    });
    const product = await h.service.catalog.create(seller, {
      name: 'Lamp',
      priceCents: 1000,
      inventory: 1,
    });
    const bytes = await png();
    await expect(images.upload(seller, product.id, async () => bytes)).rejects.toThrow('disk full');
    expect(puts).toBe(3);
    const left = path.join(dir, 'products', product.id);
    const files = fs.existsSync(left)
      ? (fs.readdirSync(left, { recursive: true }) as string[]).filter((f) =>
          fs.statSync(path.join(left, f)).isFile(),
        )
      : [];
    expect(files).toEqual([]);
    expect((await h.service.catalog.get(product.id)).value.images).toEqual([]);
  });
});

describe('images through the gateway', () => {
  let h: Harness;
  let gateway: Gateway;
  let server: http.Server;
  let base: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'product-images-gw-'));

  beforeAll(async () => {
    h = await startHarness('product_images_gateway', {
      IMAGE_DIR: dir,
      IMAGE_MAX_BYTES: '262144',
      PORT: '32105',
    });
    const unused = 'http://127.0.0.1:32129';
    gateway = buildGateway({
      config: loadGatewayConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: '32106',
        ...testJwtEnv,
        AUTH_SERVICE_URL: unused,
        PRODUCT_SERVICE_URL: h.service.url,
        COMMENTS_SERVICE_URL: unused,
        PAYMENT_SERVICE_URL: unused,
        ORDER_SERVICE_URL: unused,
        RATE_LIMIT_ENABLED: 'false',
        // Far below an image: the upload route's own limit applies to it.
        BODY_LIMIT: '1kb',
      }),
      logger: createLogger('gateway-test', 'silent'),
    });
    server = http.createServer(gateway.handler);
    await new Promise<void>((resolve) => server.listen(32106, '127.0.0.1', resolve));
    base = 'http://127.0.0.1:32106';
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await gateway.close();
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('forwards the upload intact and serves the bytes with their cache headers', async () => {
    const created = await request(base)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'Kettle', price: 20, inventory: 1 });
    const id = created.body.id as string;
    const original = await jpegWithGps();
    expect(original.length).toBeGreaterThan(1024);
    const up = await request(base)
      .post(`/api/products/${id}/images`)
      .set('Authorization', bearer(seller))
      .set('Content-Type', 'image/jpeg')
      .send(original);
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ width: 1600, height: 1200 });

    const direct = await fs.promises.readFile(
      path.join(dir, 'products', id, up.body.id, 'medium.webp'),
    );
    const served = await fetch(`${base}${up.body.variants.medium.url}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/webp');
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(served.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(Buffer.from(await served.arrayBuffer()).equals(direct)).toBe(true);
    // JSON answers keep the gateway's same-origin policy.
    const json = await fetch(`${base}/api/products/${id}`);
    expect(json.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    // Not fetch(): it adds Cache-Control: no-cache to a conditional request.
    const revalidated = await request(base)
      .get(up.body.variants.medium.url)
      .set('If-None-Match', served.headers.get('etag')!);
    expect(revalidated.status).toBe(304);

    const product = await request(base).get(`/api/products/${id}`);
    expect(product.body.images[0].variants.thumb.url).toBe(up.body.variants.thumb.url);
    const forged = await request(base)
      .post(`/api/products/${id}/images`)
      .set('Authorization', bearer(seller))
      .set('Content-Type', 'image/png')
      .send(elf);
    expect(forged.status).toBe(415);
  });

  it('other routes keep BODY_LIMIT; an upload over the service limit is 413 even chunked', async () => {
    const json = await request(base)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'x'.repeat(2000), price: 1, inventory: 1 });
    expect(json.status).toBe(413);
    const created = await request(base)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'Mug', price: 5, inventory: 1 });
    const big = await bigPng();
    const chunked = await sendChunked(
      `${base}/api/products/${created.body.id}/images`,
      bearer(seller),
      big,
    );
    expect(chunked.status).toBe(413);
    expect(fs.existsSync(path.join(dir, 'products', created.body.id))).toBe(false);
  });
});

/** POSTs the bytes with Transfer-Encoding: chunked (no Content-Length to refuse up front). */
function sendChunked(
  url: string,
  authorization: string,
  bytes: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: { Authorization: authorization, 'Content-Type': 'image/png' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    // The server may answer and close before every chunk is sent.
    req.on('error', reject);
    for (let i = 0; i < bytes.length; i += 16_384) req.write(bytes.subarray(i, i + 16_384));
    req.end();
  });
}
