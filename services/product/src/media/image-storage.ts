import type { ProductConfig } from '../config';
import { IMAGE_CACHE_CONTROL } from '../domain/image-rules';
import type { ImageStorage } from '../domain/ports';
import { diskImageStorage } from './disk-storage';
import { s3ImageStorage } from './s3-storage';

/** S3 when S3_ENDPOINT is set, else the local directory IMAGE_DIR. */
export async function openImageStorage(
  config: ProductConfig,
): Promise<ImageStorage & { close?: () => void }> {
  if (!config.S3_ENDPOINT) return diskImageStorage(config.IMAGE_DIR);
  const storage = s3ImageStorage({
    endpoint: config.S3_ENDPOINT,
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    cacheControl: IMAGE_CACHE_CONTROL,
  });
  if (config.S3_CREATE_BUCKET) await storage.ensureBucket();
  return storage;
}
