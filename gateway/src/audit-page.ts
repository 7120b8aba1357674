import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Router, type Response } from 'express';
import { AppError } from '@ecom/common/errors';

/**
 * The audit explorer (docs/adr/0019): the page audit-web builds with Vite, served at /audit.
 * Files are read once into memory (no path from a request ever reaches the file system) and
 * gzipped there; hashed assets are cached for a year, the page itself is revalidated.
 */

/** Where `npm run build -w audit-web` writes, from gateway/src (tsx, jest) or gateway/dist. */
export const AUDIT_WEB_DIST = path.resolve(__dirname, '..', '..', 'audit-web', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  immutable: boolean;
}

export interface AuditPageOptions {
  /** The built page (default: audit-web/dist of this checkout or image). */
  dir?: string;
  /**
   * Chain JSON-RPC origins the page may ask besides loopback (`https://rpc.example.org`): the
   * Content-Security-Policy allows connections to these only. Loopback on any port is always
   * allowed: the embedded chain, or a node of the user's own.
   */
  rpcOrigins?: string[];
}

/** The page's Content-Security-Policy: its own scripts and styles only, no inline code. */
export function auditPagePolicy(rpcOrigins: string[] = []): string {
  const connect = [
    "'self'",
    'http://127.0.0.1:*',
    'http://localhost:*',
    'http://[::1]:*',
    ...rpcOrigins.map((u) => new URL(u).origin),
  ];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(rel);
        continue;
      }
      const type = TYPES[path.extname(entry.name)];
      if (!type) continue;
      const body = fs.readFileSync(path.join(dir, rel));
      const compressible = !type.startsWith('image/png') && !type.startsWith('font/');
      assets.set(`/${rel}`, {
        body,
        gzip: compressible && body.length > 1024 ? gzipSync(body) : null,
        type,
        // Vite names every file under assets/ by its content hash.
        immutable: rel.startsWith('assets/'),
      });
    }
  };
  walk('');
  return assets;
}

export function auditPageRoutes(options: AuditPageOptions = {}): Router {
  const dir = options.dir ?? AUDIT_WEB_DIST;
  const policy = auditPagePolicy(options.rpcOrigins);
  let assets: Map<string, Asset> | null = null;
  // Read on first use, and again while the build is missing (a build run after the start).
  const current = (): Map<string, Asset> | null => {
    if (!assets && fs.existsSync(path.join(dir, 'index.html'))) assets = loadAssets(dir);
    return assets;
  };
  const send = (res: Response, asset: Asset, acceptsGzip: boolean): void => {
    res.setHeader('Content-Security-Policy', policy);
    res.setHeader('Content-Type', asset.type);
    res.setHeader(
      'Cache-Control',
      asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    res.setHeader('Vary', 'Accept-Encoding');
    if (asset.gzip && acceptsGzip) {
      res.setHeader('Content-Encoding', 'gzip');
      res.send(asset.gzip);
    } else {
      res.send(asset.body);
    }
  };

  const router = Router({ caseSensitive: true, strict: true });
  router.get(['/audit', '/audit/', '/audit/index.html'], (req, res) => {
    const page = current()?.get('/index.html');
    if (!page) {
      throw new AppError(
        503,
        'AUDIT_PAGE_NOT_BUILT',
        'The audit page is not built: run `npm install` or `npm run build -w audit-web`',
      );
    }
    send(res, page, /\bgzip\b/.test(req.get('accept-encoding') ?? ''));
  });
  router.get('/audit/*path', (req, res, next) => {
    const asset = current()?.get(req.path.slice('/audit'.length));
    // Unknown files fall through to the common 404.
    if (!asset || asset.type.startsWith('text/html')) {
      next();
      return;
    }
    send(res, asset, /\bgzip\b/.test(req.get('accept-encoding') ?? ''));
  });
  return router;
}
