import Joi from 'joi';
import { CURRENCIES } from '../config';
import { MAX_PRICE_CENTS, decimalToCents } from '../domain/money';

const MAX_PRICE = MAX_PRICE_CENTS / 100;
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A decimal price with at most two decimals (converted to cents after validation). */
const price = Joi.number()
  .custom((value: number, helpers) =>
    decimalToCents(value) === undefined ? helpers.error('number.decimals') : value,
  )
  .messages({ 'number.decimals': '{{#label}} must have at most 2 decimal places' });

export const objectIdParam = Joi.string().hex().length(24).required();
export const slug = Joi.string().max(64).pattern(SLUG).messages({
  'string.pattern.base': '{{#label}} must be lower-case letters, digits and dashes',
});
const sellerId = Joi.string()
  .max(64)
  .pattern(/^[A-Za-z0-9_-]+$/);

export const listQuery = Joi.object({
  // An empty search box means no text filter.
  q: Joi.string().trim().max(100).allow(''),
  category: slug,
  minPrice: price.min(0).max(MAX_PRICE),
  maxPrice: price
    .min(0)
    .max(MAX_PRICE)
    .when('minPrice', { is: Joi.exist(), then: Joi.number().min(Joi.ref('minPrice')) }),
  inStock: Joi.boolean(),
  sellerId,
  sort: Joi.string().valid('price', '-price', 'newest', 'rating').default('newest'),
  page: Joi.number().integer().min(1).max(10_000).default(1),
  limit: Joi.number().integer().min(1).max(100).default(20),
});

const attributes = Joi.object()
  .pattern(
    // No `$` or `.`: attribute names become MongoDB field names.
    Joi.string().pattern(/^[A-Za-z][A-Za-z0-9_ -]{0,63}$/),
    Joi.alternatives().try(
      Joi.string().max(500).allow(''),
      Joi.number().min(-1e12).max(1e12),
      Joi.boolean(),
    ),
  )
  .max(50);

const productFields = {
  name: Joi.string().trim().min(1).max(200),
  description: Joi.string().trim().max(5000).allow(''),
  price: price.greater(0).max(MAX_PRICE),
  currency: Joi.string().valid(...CURRENCIES),
  lowStockThreshold: Joi.number().integer().min(0).max(1_000_000),
  category: slug.allow(null),
  attributes,
};

export const createProductBody = Joi.object({
  ...productFields,
  name: productFields.name.required(),
  price: productFields.price.required(),
  inventory: Joi.number().integer().min(0).max(1_000_000_000).required(),
  sellerId,
});

export const updateProductBody = Joi.object(productFields).min(1);

export const inventoryBody = Joi.object({
  set: Joi.number().integer().min(0).max(1_000_000_000),
  restock: Joi.number().integer().min(1).max(1_000_000_000),
  lowStockThreshold: Joi.number().integer().min(0).max(1_000_000),
})
  .oxor('set', 'restock')
  .or('set', 'restock', 'lowStockThreshold');

export const availabilityQuery = Joi.object({
  quantity: Joi.number().integer().min(1).max(1_000_000).default(1),
});

export const createCategoryBody = Joi.object({
  name: Joi.string().trim().min(1).max(100).required(),
  slug,
  parentId: Joi.string().hex().length(24).allow(null),
});

export const renameCategoryBody = Joi.object({
  name: Joi.string().trim().min(1).max(100).required(),
});

export { decimalToCents };
