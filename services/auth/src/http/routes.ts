import type { Request, Router } from 'express';
import {
  bearerToken,
  requireUser,
  verifyAccessToken,
  type JwtVerifyOptions,
  type Role,
} from '@ecom/common/auth';
import { bindRoutes, reply, type PageQuery } from '@ecom/common/http';
import type { Logger } from '@ecom/common/logging';
import type { Accounts } from '../application/accounts';
import type { ProfileChanges } from '../store/user-store';
import { authApi } from './api';

const location = (id: string) => `/api/users/${id}`;

type TrustProxy = (address: string, hop: number) => boolean;

/**
 * The client address login throttling counts under: `req.ip`, which Express takes from
 * X-Forwarded-For only when the peer is a proxy the service's `trust proxy` names (loopback:
 * the gateway of a one-host run), else the peer itself. A forwarder that is not trusted (the
 * gateway on another host) makes every client behind it one address: still safe from forged
 * headers, but they then share their delays; this says so once, so the operator trusts it.
 */
export function clientAddress(req: Request, warn: (proxy: string) => void): string | undefined {
  const peer = req.socket.remoteAddress;
  if (peer && req.get('x-forwarded-for') !== undefined) {
    const trusted = req.app.get('trust proxy fn') as TrustProxy | undefined;
    if (!trusted?.(peer, 0)) warn(peer);
  }
  return req.ip;
}

/** The handlers of authApi: input is already validated and the caller authenticated. */
export function authRoutes(deps: {
  accounts: Accounts;
  jwt: JwtVerifyOptions;
  logger?: Logger;
}): Router {
  const { accounts, jwt, logger } = deps;
  let warned = false;
  const untrustedForwarder = (proxy: string) => {
    if (warned) return;
    warned = true;
    logger?.warn(
      'login throttling: X-Forwarded-For from a proxy this service does not trust is ignored, so every client behind it counts as one address (trust the gateway: docs/adr/0016)',
      { proxy },
    );
  };
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
      login: (req) => accounts.login(req.body, { ip: clientAddress(req, untrustedForwarder) }),
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
