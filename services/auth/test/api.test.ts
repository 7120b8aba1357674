import type { OperationSpec } from '@ecom/common/http';
import { authApi } from '../src/http/api';

/** What the gateway reads from the spec: who may call each route and which budget it spends. */
describe('authApi', () => {
  const ops: OperationSpec[] = Object.values(authApi.operations);
  const route = (op: OperationSpec) => `${op.method.toUpperCase()} ${op.path}`;

  it('charges login and registration to the auth rate-limit budget, and nothing else', () => {
    expect(ops.filter((op) => op.rateLimit).map((op) => [route(op), op.rateLimit])).toEqual([
      ['POST /api/auth/register', 'auth'],
      ['POST /api/auth/login', 'auth'],
    ]);
  });

  it('opens register, login, refresh and logout to anyone and user management to admins only', () => {
    const byAccess = (access: string) =>
      ops.filter((op) => JSON.stringify(op.access) === JSON.stringify(access)).map(route);
    expect(byAccess('public')).toEqual([
      'POST /api/auth/register',
      'POST /api/auth/login',
      'POST /api/auth/refresh',
      'POST /api/auth/logout',
    ]);
    expect(
      ops.filter((op) => Array.isArray(op.access)).map((op) => [route(op), op.access]),
    ).toEqual([
      ['GET /api/users', ['admin']],
      ['GET /api/users/:id', ['admin']],
      ['PUT /api/users/:id/role', ['admin']],
      ['DELETE /api/users/:id', ['admin']],
    ]);
    expect(byAccess('public').length + byAccess('user').length + 4).toBe(ops.length);
  });

  it('owns /api/auth and /api/users at the gateway, with no internal route', () => {
    expect(authApi.prefixes).toEqual(['/api/auth', '/api/users']);
    expect(ops.filter((op) => op.internal)).toEqual([]);
  });
});
