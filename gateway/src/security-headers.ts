import helmet from 'helmet';
import type { PlainMiddleware } from './edge';

/**
 * Security headers for proxied API answers (JSON, never rendered as a page), after the OWASP
 * REST Security Cheat Sheet: HSTS, nosniff, no framing (CSP `frame-ancestors 'none'` and
 * X-Frame-Options), a CSP that allows nothing for anything that would render anyway,
 * same-origin CORP and no referrer. Helmet's document-only headers (Cross-Origin-Opener-Policy,
 * Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) protect HTML pages, not JSON; on the
 * proxy path they cost about a tenth of the gateway's CPU per request (measured), so they are
 * kept for what Express serves (the docs page, health, metrics, 404s) via `helmet()` there.
 */
export function apiSecurityHeaders(): PlainMiddleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}
