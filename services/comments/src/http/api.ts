import Joi from 'joi';
import { idTokenSchema, objectIdSchema } from '@ecom/common/ids';
import {
  defineApi,
  deletedResponse,
  pageQueryKeys,
  withinResultWindow,
  type ResponseSpec,
  visibleText,
} from '@ecom/common/http';
import { COMMENT_MAX_LENGTH_LIMIT } from '../config';
import { COMMENT_STATUSES } from '../domain/types';

/**
 * The comments service's HTTP API: routes, access, input schemas and answers. The routes bind
 * their handlers to it, the gateway routes by it, /docs and Postman are generated from it.
 */

/** Product ids are strings issued by the product service (ObjectId hex today): bounded, plain. */
const productId = idTokenSchema(64);
/** Comment ids are MongoDB ObjectIds. */
const commentId = objectIdSchema;
const idParams = Joi.object({ id: commentId.required() });
// Stored exactly as given (no trimming, no HTML handling): the API returns it as JSON data.
// COMMENT_MAX_LENGTH (at most this bound) is applied by the use cases.
const text = visibleText(Joi.string().max(COMMENT_MAX_LENGTH_LIMIT));
const rating = Joi.number().integer().strict().min(1).max(5);
const nullable = (schema: Joi.Schema) => schema.allow(null);
const timestamp = Joi.string().isoDate();
const count = Joi.number().integer().min(0);

const commentSchema = Joi.object({
  id: commentId,
  productId: Joi.string(),
  parentId: nullable(commentId),
  depth: count.description('0 for a review, 1.. for replies'),
  author: nullable(
    Joi.object({
      id: nullable(Joi.string()).description('null once the account was deleted'),
      name: nullable(Joi.string()),
    }),
  ).description('null on a tombstone'),
  text: nullable(Joi.string()).description('null on a tombstone'),
  rating: nullable(Joi.number().integer().min(1).max(5)).description(
    'reviews only; null on replies and tombstones',
  ),
  status: Joi.string().valid(...COMMENT_STATUSES),
  deleted: Joi.boolean().description('a tombstone: deleted, kept for its replies'),
  helpfulCount: count,
  replyCount: count,
  createdAt: timestamp,
  updatedAt: timestamp,
  editedAt: nullable(timestamp),
  moderation: Joi.object({
    flags: count,
    flagsSinceReview: count.description('flags since the last approval'),
    trustedFlagsSinceReview: count.description(
      'of those, flags from trusted accounts (only these can hide it)',
    ),
    hiddenReason: nullable(Joi.string().valid('flags', 'moderator')),
    queuedAt: nullable(timestamp).description(
      'when it entered the moderation queue; null when no decision is pending',
    ),
  }).description('admins only'),
  replies: Joi.array()
    .items(Joi.object().unknown(true).description('A reply: a Comment with its own replies'))
    .description('In lists only: the replies, oldest first'),
}).label('Comment');

const queuedCommentSchema = commentSchema
  .keys({
    recentFlags: Joi.array().items(
      Joi.object({
        userId: Joi.string(),
        reason: nullable(Joi.string()),
        trusted: Joi.boolean().description('the flagger carried trusted weight'),
        createdAt: timestamp,
      }),
    ),
  })
  .label('QueuedComment');

const helpfulSchema = Joi.object({ commentId, helpfulCount: count });

const theComment: ResponseSpec = { status: 200, description: 'The comment', schema: commentSchema };

export const commentsApi = defineApi({
  service: 'comments',
  tag: { name: 'Comments', description: 'Reviews, replies, moderation (comments service)' },
  prefixes: ['/api/comments'],
  operations: {
    listProductComments: {
      method: 'get',
      path: '/api/comments/product/:productId',
      summary: 'Top-level reviews of a product, replies nested (admins also see hidden ones)',
      access: 'optional',
      params: Joi.object({ productId: productId.required() }),
      query: withinResultWindow(
        Joi.object({
          ...pageQueryKeys,
          sort: Joi.string().valid('newest', 'helpful').default('newest'),
        }),
      ),
      response: {
        status: 200,
        description: 'A page of reviews',
        schema: commentSchema,
        list: true,
      },
    },
    moderationQueue: {
      method: 'get',
      path: '/api/comments/moderation/queue',
      summary:
        'Comments awaiting a moderator (flagged past the review threshold, or hidden), ' +
        'oldest first, each with its recent flags',
      access: ['admin'],
      query: Joi.object(pageQueryKeys),
      response: {
        status: 200,
        description: 'A page of queued comments',
        schema: queuedCommentSchema,
        list: true,
      },
    },
    getComment: {
      method: 'get',
      path: '/api/comments/:id',
      summary: 'One comment, without replies (hidden ones for admins only)',
      access: 'optional',
      params: idParams,
      response: theComment,
    },
    createComment: {
      method: 'post',
      path: '/api/comments',
      summary: 'Review a product (rating required), or reply to a comment (parentId, no rating)',
      access: 'user',
      body: Joi.object({
        productId: productId.required(),
        text: text.required(),
        rating: nullable(rating),
        parentId: nullable(commentId),
      }),
      response: { status: 201, description: 'The comment', schema: commentSchema },
      errors: {
        403: "The account has been deleted (details.reason account_deleted); a review of the seller's own product (own_product: it may reply under reviews)",
        404: 'Unknown product or parent comment',
        409: 'A second review of the product by the same user',
        422: 'PARENT_PRODUCT_MISMATCH, PARENT_DELETED, THREAD_TOO_DEEP',
        503: 'The product service cannot tell whether the product exists',
      },
    },
    editComment: {
      method: 'put',
      path: '/api/comments/:id',
      summary: 'Edit own comment (text and/or rating)',
      access: 'user',
      params: idParams,
      body: Joi.object({ text, rating }).or('text', 'rating'),
      response: theComment,
      errors: {
        403: "Not the author; a new rating on a review of the seller's own product (details.reason own_product)",
        503: 'The product service cannot tell whose product a re-rated review is of',
      },
    },
    deleteComment: {
      method: 'delete',
      path: '/api/comments/:id',
      summary: 'Delete a comment (author or admin; a tombstone while it has replies)',
      access: 'user',
      params: idParams,
      response: deletedResponse,
      errors: { 403: 'Neither the author nor an admin' },
    },
    flagComment: {
      method: 'post',
      path: '/api/comments/:id/flag',
      summary:
        'Flag a comment, once per user (enough flags queue it for a moderator; only flags ' +
        'from trusted accounts can hide it)',
      access: 'user',
      params: idParams,
      body: Joi.object({ reason: visibleText(Joi.string().max(500)).required() }),
      response: {
        status: 201,
        description: 'The flag was recorded',
        schema: Joi.object({ commentId, flagged: Joi.boolean(), hidden: Joi.boolean() }),
      },
      errors: {
        403: 'The account has been deleted',
        409: 'Already flagged by this user',
        422: 'OWN_COMMENT_FLAG, COMMENT_DELETED',
      },
    },
    moderateComment: {
      method: 'put',
      path: '/api/comments/:id/moderate',
      summary: 'Approve (visible, out of the queue, flag counts restart), hide or remove a comment',
      access: ['admin'],
      params: idParams,
      body: Joi.object({
        action: Joi.string().valid('approve', 'hide', 'remove').required(),
        reason: Joi.string().max(500),
      }),
      response: {
        status: 200,
        description: 'What the action did, and the comment after it (null once removed)',
        schema: Joi.object({
          id: commentId,
          action: Joi.string().valid('approve', 'hide', 'remove'),
          outcome: Joi.string().valid('visible', 'hidden', 'removed', 'tombstoned'),
          comment: nullable(commentSchema),
        }),
      },
    },
    markHelpful: {
      method: 'post',
      path: '/api/comments/:id/helpful',
      summary: 'Mark a comment helpful, once per user',
      access: 'user',
      params: idParams,
      response: { status: 201, description: 'The new helpful count', schema: helpfulSchema },
      errors: {
        403: 'The account has been deleted',
        409: 'Already marked helpful by this user',
        422: 'OWN_COMMENT_VOTE, COMMENT_DELETED',
      },
    },
    withdrawHelpful: {
      method: 'delete',
      path: '/api/comments/:id/helpful',
      summary: 'Withdraw one’s helpful vote',
      access: 'user',
      params: idParams,
      response: { status: 204, description: 'Withdrawn' },
      errors: { 404: 'No vote of this user on the comment' },
    },
  },
});
