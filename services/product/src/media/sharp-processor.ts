import sharp from 'sharp';
import {
  detectImageFormat,
  IMAGE_VARIANTS,
  ImageTooLargeError,
  InvalidImageError,
  UnsupportedImageError,
  VARIANT_NAMES,
} from '../domain/image-rules';
import type { ImageProcessor, ProcessedImage } from '../domain/ports';

/**
 * The image processor on sharp (libvips): the bytes must start as JPEG, PNG or WebP do and
 * sharp's decoder must agree; images over `maxPixels` are refused before they are decoded (a
 * small file can expand to gigabytes); variants are WebP, rotated as EXIF says, then written
 * without any metadata (EXIF, GPS, XMP, ICC: sharp keeps none unless asked).
 */
export function sharpImageProcessor(options: {
  maxBytes: number;
  maxPixels: number;
}): ImageProcessor {
  return async (bytes: Buffer): Promise<ProcessedImage> => {
    if (bytes.length > options.maxBytes) throw new ImageTooLargeError(options.maxBytes);
    const format = detectImageFormat(bytes);
    if (!format) throw new UnsupportedImageError();
    const input = () =>
      sharp(bytes, { limitInputPixels: options.maxPixels, failOn: 'error', pages: 1 });
    let meta: sharp.Metadata;
    try {
      // The header only (no pixels decoded), so the pixel count can be refused by name below.
      meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
    } catch {
      throw new InvalidImageError();
    }
    if (meta.format !== format) throw new UnsupportedImageError();
    const { width, height } = meta;
    if (!width || !height) throw new InvalidImageError();
    if (width * height > options.maxPixels) {
      throw new InvalidImageError(
        `The image has ${width}×${height} pixels; at most ${options.maxPixels} are accepted`,
      );
    }
    // EXIF orientation 5..8 swaps the sides the variants are computed from.
    const swapped = (meta.orientation ?? 1) >= 5;
    const variants: ProcessedImage['variants'] = [];
    try {
      // Decoded once (JPEG shrinks on load), at the largest variant's size; the others are
      // resized from those pixels.
      const largest = Math.max(...VARIANT_NAMES.map((name) => IMAGE_VARIANTS[name]));
      const { data: pixels, info } = await input()
        .rotate()
        .resize({ width: largest, height: largest, fit: 'inside', withoutEnlargement: true })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const raw = { width: info.width, height: info.height, channels: info.channels };
      for (const name of VARIANT_NAMES) {
        const side = IMAGE_VARIANTS[name];
        const { data, info: out } = await sharp(pixels, { raw })
          .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 80 })
          .toBuffer({ resolveWithObject: true });
        variants.push({ name, bytes: data, width: out.width, height: out.height });
      }
    } catch {
      // A header that decodes over a body that does not (truncated or corrupt data).
      throw new InvalidImageError();
    }
    return {
      format,
      width: swapped ? height : width,
      height: swapped ? width : height,
      variants,
    };
  };
}
