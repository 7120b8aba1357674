/**
 * The gateway's API, same origin. The access token lives in this module's memory only: a reload
 * or a closed tab forgets it, no other page of the origin can read it from storage, and the
 * refresh token is never kept (sign in again when it expires).
 */
let session: { token: string; email: string; role: string } | null = null;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function signedIn() {
  return session;
}

export function signOut(): void {
  session = null;
}

export async function api<T>(path: string, init: RequestInit = {}, auth = true): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json');
  if (init.body) headers.set('content-type', 'application/json');
  if (auth && session) headers.set('authorization', `Bearer ${session.token}`);
  const res = await fetch(path, { ...init, headers });
  const body = (await res.json().catch(() => null)) as
    (T & { error?: { code?: string; message?: string } }) | null;
  if (!res.ok) {
    if (res.status === 401 && auth) session = null;
    const err = body?.error;
    throw new ApiError(res.status, err?.code ?? 'HTTP_ERROR', err?.message ?? `HTTP ${res.status}`);
  }
  return body as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const body = await api<{ accessToken: string; user?: { role?: string; email?: string } }>(
    '/api/auth/login',
    { method: 'POST', body: JSON.stringify({ email, password }) },
    false,
  );
  session = { token: body.accessToken, email, role: body.user?.role ?? 'customer' };
}

/** Every page of a list envelope. */
export async function allPages<T>(path: string, auth = true, limit = 100): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; ; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await api<{ items: T[]; totalPages?: number }>(
      `${path}${sep}page=${page}&limit=${limit}`,
      {},
      auth,
    );
    items.push(...body.items);
    if (page >= (body.totalPages ?? 0) || !body.items.length) return items;
  }
}
