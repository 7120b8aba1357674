import type { Page } from './conventions';

/**
 * What a handler answers. The kit writes it (bindRoutes), so the conventions hold everywhere:
 * a created resource always carries its Location, a deletion always answers 204, a list
 * always has the one envelope.
 */
export interface Reply {
  readonly status: number;
  /** JSON, or a Buffer sent as bytes (with the Content-Type the headers give). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const REPLY = Symbol('reply');
type Tagged = Reply & { [REPLY]: true };

function make(status: number, body?: unknown, headers?: Record<string, string>): Reply {
  return {
    [REPLY]: true,
    status,
    ...(body !== undefined ? { body } : {}),
    ...(headers ? { headers } : {}),
  } as Tagged;
}

export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && (value as Tagged)[REPLY] === true;
}

export const reply = {
  ok: (body: unknown, headers?: Record<string, string>) => make(200, body, headers),
  /** 201 with the new resource and where it lives. */
  created: (body: unknown, location: string, headers?: Record<string, string>) =>
    make(201, body, { ...headers, Location: location }),
  accepted: (body: unknown, headers?: Record<string, string>) => make(202, body, headers),
  noContent: () => make(204),
  list: <T>(result: Page<T>, headers?: Record<string, string>) => make(200, result, headers),
  /** A stored answer replayed (Idempotency-Key): the status it had, marked as a replay. */
  replayed: (status: number, body: unknown, location?: string) =>
    make(status, body, {
      'Idempotent-Replayed': 'true',
      ...(location ? { Location: location } : {}),
    }),
};
