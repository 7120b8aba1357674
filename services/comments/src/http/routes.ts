import type { Request, Router } from 'express';
import { requireUser, type JwtVerifyOptions } from '@ecom/common/auth';
import { bindRoutes, reply, type PageQuery } from '@ecom/common/http';
import type { CommentListQuery, Comments, NewCommentInput } from '../application/comments';
import type { HelpfulVotes } from '../application/helpful';
import type { Moderation } from '../application/moderation';
import type { Actor, ModerationAction } from '../domain/types';
import { commentsApi } from './api';

const commentUrl = (id: string) => `/api/comments/${id}`;

/** The reader behind an 'optional' operation, when signed in. */
const readerOf = (req: Request): Actor | undefined => req.user;
const actorOf = (req: Request): Actor => requireUser(req);

const idOf = (req: Request) => String(req.params.id);

/** The handlers of commentsApi: input is already validated and the caller authenticated. */
export function commentsRoutes(deps: {
  comments: Comments;
  moderation: Moderation;
  helpful: HelpfulVotes;
  jwt: JwtVerifyOptions;
}): Router {
  const { comments, moderation, helpful } = deps;
  return bindRoutes(
    commentsApi,
    {
      async listProductComments(req) {
        return reply.list(
          await comments.listForProduct(
            String(req.params.productId),
            req.query as unknown as CommentListQuery,
            readerOf(req),
          ),
        );
      },
      async moderationQueue(req) {
        return reply.list(await moderation.queue(actorOf(req), req.query as unknown as PageQuery));
      },
      getComment: (req) => comments.get(idOf(req), readerOf(req)),
      async createComment(req) {
        const comment = await comments.create(actorOf(req), req.body as NewCommentInput);
        return reply.created(comment, commentUrl(comment.id));
      },
      editComment: (req) =>
        comments.edit(actorOf(req), idOf(req), req.body as { text?: string; rating?: number }),
      async deleteComment(req) {
        await comments.remove(actorOf(req), idOf(req));
        return reply.noContent();
      },
      async flagComment(req) {
        const { reason } = req.body as { reason: string };
        // The flag has no address of its own: the Location is the URL it was created at.
        return reply.created(
          await moderation.flag(actorOf(req), idOf(req), reason),
          `${commentUrl(idOf(req))}/flag`,
        );
      },
      moderateComment: (req) =>
        moderation.moderate(
          actorOf(req),
          idOf(req),
          (req.body as { action: ModerationAction }).action,
        ),
      async markHelpful(req) {
        // The caller's vote lives where DELETE withdraws it.
        return reply.created(
          await helpful.vote(actorOf(req), idOf(req)),
          `${commentUrl(idOf(req))}/helpful`,
        );
      },
      async withdrawHelpful(req) {
        await helpful.withdraw(actorOf(req), idOf(req));
        return reply.noContent();
      },
    },
    { jwt: deps.jwt },
  );
}
