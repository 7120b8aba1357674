import type { Request, Router } from 'express';
import {
  bearerToken,
  requireUser,
  verifyAccessToken,
  type JwtVerifyOptions,
  type Role,
} from '@ecom/common/auth';
import { bindRoutes, reply, type PageQuery } from '@ecom/common/http';
import type { Accounts } from '../application/accounts';
import type { ProfileChanges } from '../store/user-store';
import { authApi } from './api';

const location = (id: string) => `/api/users/${id}`;

/** The handlers of authApi: input is already validated and the caller authenticated. */
export function authRoutes(deps: { accounts: Accounts; jwt: JwtVerifyOptions }): Router {
  const { accounts, jwt } = deps;
  const profile = (req: Request) => accounts.profile(requireUser(req).id);
  const updateProfile = (req: Request) =>
    accounts.updateProfile(requireUser(req).id, req.body as ProfileChanges);
  return bindRoutes(
    authApi,
    {
      async register(req) {
        const session = await accounts.register(req.body);
        return reply.created(session, location(session.user.id));
      },
      login: (req) => accounts.login(req.body),
      refresh: (req) => accounts.refresh(req.body.refreshToken),
      async logout(req) {
        await accounts.logout(req.body.refreshToken);
        return reply.noContent();
      },
      async logoutAll(req) {
        return { revoked: await accounts.logoutAll(requireUser(req).id) };
      },
      async verify(req) {
        // The guard has verified the token; answer its claims (decoded once more, cheaply).
        const claims = verifyAccessToken(bearerToken(req.get('authorization')) ?? '', jwt);
        return { valid: true, user: requireUser(req), claims };
      },
      changePassword: (req) => accounts.changePassword(requireUser(req).id, req.body),
      getProfile: profile,
      updateProfile,
      getUsersProfile: profile,
      updateUsersProfile: updateProfile,
      async listUsers(req) {
        return reply.list(
          await accounts.listUsers(req.query as unknown as PageQuery & { role?: Role }),
        );
      },
      getUser: (req) => accounts.getUser(String(req.params.id)),
      setRole: (req) =>
        accounts.setRole(requireUser(req).id, String(req.params.id), req.body.role as Role),
      async deleteUser(req) {
        await accounts.deleteUser(requireUser(req).id, String(req.params.id));
        return reply.noContent();
      },
    },
    { jwt },
  );
}
