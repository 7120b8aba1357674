import { Router, type Request } from 'express';
import {
  authenticate,
  requireRole,
  UnauthorizedError,
  validate,
  verifyAccessToken,
  type JwtVerifyOptions,
  type Role,
} from '@ecom/common';
import type { Accounts } from '../accounts';
import type { ProfileChanges } from '../store/user-store';
import {
  listUsersQuery,
  loginBody,
  passwordBody,
  profileBody,
  refreshBody,
  registerBody,
  roleBody,
  userIdParams,
} from './schemas';

/** Only after `authenticate`: the verified caller. */
function caller(req: Request) {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

/** GET/PUT profile, mounted under both /api/auth and /api/users. */
function profileRouter(accounts: Accounts, auth: ReturnType<typeof authenticate>): Router {
  const router = Router();
  router.get('/profile', auth, async (req, res) => {
    res.json({ user: await accounts.profile(caller(req).id) });
  });
  router.put('/profile', auth, validate({ body: profileBody }), async (req, res) => {
    const user = await accounts.updateProfile(caller(req).id, req.body as ProfileChanges);
    res.json({ user });
  });
  return router;
}

export function authRouter(accounts: Accounts, jwt: JwtVerifyOptions): Router {
  const router = Router();
  const auth = authenticate(jwt);

  router.post('/register', validate({ body: registerBody }), async (req, res) => {
    res.status(201).json(await accounts.register(req.body));
  });

  router.post('/login', validate({ body: loginBody }), async (req, res) => {
    res.json(await accounts.login(req.body));
  });

  router.post('/refresh', validate({ body: refreshBody }), async (req, res) => {
    res.json(await accounts.refresh(req.body.refreshToken));
  });

  router.post('/logout', validate({ body: refreshBody }), async (req, res) => {
    await accounts.logout(req.body.refreshToken);
    res.status(204).end();
  });

  router.post('/logout-all', auth, async (req, res) => {
    const revoked = await accounts.logoutAll(caller(req).id);
    res.json({ revoked });
  });

  router.get('/verify', auth, (req, res) => {
    // `authenticate` has verified the token; return its claims (decoded once more, cheaply).
    const token = (req.get('authorization') ?? '').trim().replace(/^Bearer\s+/, '');
    const claims = verifyAccessToken(token, jwt);
    res.json({ valid: true, user: caller(req), claims });
  });

  router.put('/password', auth, validate({ body: passwordBody }), async (req, res) => {
    res.json(await accounts.changePassword(caller(req).id, req.body));
  });

  router.use(profileRouter(accounts, auth));
  return router;
}

export function usersRouter(accounts: Accounts, jwt: JwtVerifyOptions): Router {
  const router = Router();
  const auth = authenticate(jwt);
  router.use(profileRouter(accounts, auth));

  const admin = [auth, requireRole('admin')];
  router.get('/', ...admin, validate({ query: listUsersQuery }), async (req, res) => {
    const query = req.query as unknown as { page: number; limit: number; role?: Role };
    res.json(await accounts.listUsers(query));
  });
  router.get('/:id', ...admin, validate({ params: userIdParams }), async (req, res) => {
    res.json({ user: await accounts.getUser(String(req.params.id)) });
  });
  router.put(
    '/:id/role',
    ...admin,
    validate({ params: userIdParams, body: roleBody }),
    async (req, res) => {
      const user = await accounts.setRole(caller(req).id, String(req.params.id), req.body.role);
      res.json({ user });
    },
  );
  router.delete('/:id', ...admin, validate({ params: userIdParams }), async (req, res) => {
    await accounts.deleteUser(caller(req).id, String(req.params.id));
    res.status(204).end();
  });
  return router;
}
