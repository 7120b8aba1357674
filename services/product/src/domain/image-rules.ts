import { AppError, BusinessRuleError } from '@ecom/common/errors';
import type { Product } from './types';

/**
 * Product images: which files are accepted (by their bytes, never by a declared type), the
 * variants served and where their objects live. No image library or storage driver here.
 */

export const IMAGE_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** Longest side of each variant; smaller originals are never enlarged. */
export const IMAGE_VARIANTS = { thumb: 160, medium: 640, large: 1280 } as const;
export type ImageVariant = keyof typeof IMAGE_VARIANTS;
export const VARIANT_NAMES = Object.keys(IMAGE_VARIANTS) as ImageVariant[];

/** Every variant is WebP: one type to serve, smaller than JPEG or PNG at the same quality. */
export const VARIANT_CONTENT_TYPE = 'image/webp';

/** Variant objects never change (their keys and URLs name their content): cache them a year. */
export const IMAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** The most bytes an upload may have whatever the configuration (the gateway bounds it too). */
export const MAX_IMAGE_UPLOAD_BYTES = 20 * 1024 * 1024;

/** An image id: the first 32 hex digits of the SHA-256 of the uploaded bytes. */
export const IMAGE_ID = /^[a-f0-9]{32}$/;

export interface VariantInfo {
  width: number;
  height: number;
  bytes: number;
}

/** An image attached to a product, as recorded on the product. */
export interface ProductImage {
  id: string;
  /** The uploaded image's format and size (it is not kept: only the variants are). */
  format: ImageFormat;
  width: number;
  height: number;
  variants: Record<ImageVariant, VariantInfo>;
  createdAt: Date;
}

/** The magic bytes of the accepted formats; anything else is not an image we take. */
export function detectImageFormat(bytes: Buffer): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return 'jpeg';
  }
  if (
    bytes.length >= 8 &&
    bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  ) {
    return 'png';
  }
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return 'webp';
  }
  return undefined;
}

/** Where one variant's object lives: named by product and content, so it never changes. */
export function variantKey(productId: string, imageId: string, variant: ImageVariant): string {
  return `products/${productId}/${imageId}/${variant}.webp`;
}

/** Every object of a product (deleting the product deletes them all). */
export function productImagePrefix(productId: string): string {
  return `products/${productId}/`;
}

export function variantUrl(productId: string, imageId: string, variant: ImageVariant): string {
  return `/api/products/${productId}/images/${imageId}/${variant}`;
}

export class UnsupportedImageError extends AppError {
  constructor(message = 'Only JPEG, PNG and WebP images are accepted (checked by content)') {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** The body's declared type: an image is sent as its bytes, never inside JSON. */
export const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;

export const SEND_AS_IMAGE = `Send the image bytes as ${IMAGE_MEDIA_TYPES.slice(0, -1).join(', ')} or ${IMAGE_MEDIA_TYPES.at(-1)}`;

/** A body with a content-coding (gzip...): an image is sent as it is (its format compresses). */
export class ImageEncodingError extends AppError {
  constructor() {
    super(
      415,
      'UNSUPPORTED_ENCODING',
      'Images are sent without content-coding: drop the Content-Encoding header and send the image bytes as they are',
    );
  }
}

export class InvalidImageError extends AppError {
  constructor(message = 'The image could not be decoded') {
    super(422, 'INVALID_IMAGE', message);
  }
}

export class ImageTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `An image may have at most ${limitBytes} bytes`, {
      limitBytes,
    });
  }
}

export function imageLimitError(max: number): BusinessRuleError {
  return new BusinessRuleError(
    `A product may have at most ${max} images`,
    { max },
    'IMAGE_LIMIT_REACHED',
  );
}

/** A product holds at most `max` images. */
export function assertRoomForImage(product: Product, max: number): void {
  if (product.images.length >= max) throw imageLimitError(max);
}
