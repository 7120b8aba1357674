import Joi from 'joi';

/** Product ids are strings issued by the product service (ObjectId hex today): bounded, plain. */
export const productIdSchema = Joi.string()
  .pattern(/^[A-Za-z0-9_-]+$/)
  .min(1)
  .max(64);
/** Comment ids are MongoDB ObjectIds. */
export const commentIdSchema = Joi.string().hex().length(24);

export function commentSchemas(maxTextLength: number) {
  // Stored exactly as given (no trimming, no HTML handling): the API returns it as JSON data.
  const text = Joi.string().max(maxTextLength).pattern(/\S/, 'not blank');
  const rating = Joi.number().integer().strict().min(1).max(5);

  return {
    listParams: Joi.object({ productId: productIdSchema.required() }),
    listQuery: Joi.object({
      page: Joi.number().integer().min(1).max(10000).default(1),
      limit: Joi.number().integer().min(1).max(100).default(20),
      sort: Joi.string().valid('newest', 'helpful').default('newest'),
    }),
    queueQuery: Joi.object({
      page: Joi.number().integer().min(1).max(10000).default(1),
      limit: Joi.number().integer().min(1).max(100).default(20),
    }),
    idParams: Joi.object({ id: commentIdSchema.required() }),
    create: Joi.object({
      productId: productIdSchema.required(),
      text: text.required(),
      rating: rating.allow(null),
      parentId: commentIdSchema.allow(null),
    }),
    edit: Joi.object({ text, rating }).or('text', 'rating'),
    flag: Joi.object({ reason: Joi.string().max(500).pattern(/\S/, 'not blank').required() }),
    moderate: Joi.object({
      action: Joi.string().valid('approve', 'hide', 'remove').required(),
      reason: Joi.string().max(500),
    }),
  };
}
