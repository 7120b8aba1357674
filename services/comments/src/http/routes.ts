import { Router } from 'express';
import {
  authenticate,
  requireRole,
  validate,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common';
import type { CommentsUseCases } from '../comments';
import type { Actor, ModerationAction, SortOrder } from '../domain/types';
import { commentSchemas } from './schemas';

const actorOf = (user: AuthUser | undefined): Actor | undefined =>
  user ? { id: user.id, role: user.role } : undefined;

/** Only reached after `authenticate` (not optional), so a user is always there. */
const required = (user: AuthUser | undefined): Actor => {
  if (!user) throw new Error('authenticate middleware missing');
  return { id: user.id, role: user.role };
};

/** `/api/comments` routes: validate → authenticate → use case → JSON. */
export function commentsRouter(deps: {
  useCases: CommentsUseCases;
  jwt: JwtVerifyOptions;
  maxTextLength: number;
}): Router {
  const { useCases } = deps;
  const s = commentSchemas(deps.maxTextLength);
  const auth = authenticate(deps.jwt);
  const optionalAuth = authenticate(deps.jwt, { optional: true });
  const router = Router();

  router.get(
    '/product/:productId',
    optionalAuth,
    validate({ params: s.listParams, query: s.listQuery }),
    async (req, res) => {
      const q = req.query as unknown as { page: number; limit: number; sort: SortOrder };
      res.json(await useCases.listForProduct(req.params.productId as string, q, actorOf(req.user)));
    },
  );

  // Before '/:id', which would take "moderation" for an id.
  router.get(
    '/moderation/queue',
    auth,
    requireRole('admin'),
    validate({ query: s.queueQuery }),
    async (req, res) => {
      const q = req.query as unknown as { page: number; limit: number };
      res.json(await useCases.moderationQueue(required(req.user), q));
    },
  );

  router.get('/:id', optionalAuth, validate({ params: s.idParams }), async (req, res) => {
    res.json(await useCases.get(req.params.id as string, actorOf(req.user)));
  });

  router.post('/', auth, validate({ body: s.create }), async (req, res) => {
    const comment = await useCases.create(required(req.user), req.body);
    res.status(201).location(`/api/comments/${comment.id}`).json(comment);
  });

  router.put('/:id', auth, validate({ params: s.idParams, body: s.edit }), async (req, res) => {
    res.json(await useCases.edit(required(req.user), req.params.id as string, req.body));
  });

  router.delete('/:id', auth, validate({ params: s.idParams }), async (req, res) => {
    res.json(await useCases.remove(required(req.user), req.params.id as string));
  });

  router.post(
    '/:id/flag',
    auth,
    validate({ params: s.idParams, body: s.flag }),
    async (req, res) => {
      const body = req.body as { reason: string };
      res
        .status(201)
        .json(await useCases.flag(required(req.user), req.params.id as string, body.reason));
    },
  );

  router.put(
    '/:id/moderate',
    auth,
    requireRole('admin'),
    validate({ params: s.idParams, body: s.moderate }),
    async (req, res) => {
      const body = req.body as { action: ModerationAction };
      res.json(await useCases.moderate(required(req.user), req.params.id as string, body.action));
    },
  );

  router.post('/:id/helpful', auth, validate({ params: s.idParams }), async (req, res) => {
    res.status(201).json(await useCases.voteHelpful(required(req.user), req.params.id as string));
  });

  router.delete('/:id/helpful', auth, validate({ params: s.idParams }), async (req, res) => {
    res.json(await useCases.withdrawHelpful(required(req.user), req.params.id as string));
  });

  return router;
}
