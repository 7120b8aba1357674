import type { Request } from 'express';

/**
 * The matched route pattern (e.g. `/api/products/:id`), never the raw path, so metrics and
 * logs do not grow a label per id. Unmatched requests share one label.
 */
export function routeLabel(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}
