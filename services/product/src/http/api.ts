import Joi from 'joi';
import { canonicalId, idTokenSchema, objectIdSchema } from '@ecom/common/ids';
import {
  defineApi,
  deletedResponse,
  minorUnitsFromDecimal,
  moneySchema,
  pageQueryKeys,
  withinResultWindow,
  type PageQuery,
  type ResponseSpec,
  plainText,
  visibleLine,
} from '@ecom/common/http';
import { CURRENCIES, MAX_PRICE_CENTS, MAX_STOCK } from '../domain/catalog-rules';
import {
  IMAGE_MEDIA_TYPES,
  IMAGE_ID,
  MAX_IMAGE_UPLOAD_BYTES,
  VARIANT_CONTENT_TYPE,
  VARIANT_NAMES,
} from '../domain/image-rules';

/**
 * The product service's HTTP API: routes, access, input schemas and answers. The routes bind
 * their handlers to it, the gateway routes by it, /docs and Postman are generated from it.
 * Prices come in as decimals with at most two decimals (`149.99`, as README and Postman send
 * them) and go out as money `{ amount, currency }` in integer minor units.
 */

const MAX_PRICE = MAX_PRICE_CENTS / 100;
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * A decimal price that converts to cents exactly (the handler converts it). Only a price in
 * range is asked about its decimals: a negative or huge one is told by its own bound alone.
 */
const decimalPrice = Joi.number()
  .custom((value: number, helpers) =>
    value >= 0 && value <= MAX_PRICE && minorUnitsFromDecimal(value) === undefined
      ? helpers.error('number.decimals')
      : value,
  )
  .messages({ 'number.decimals': '{{#label}} must have at most 2 decimal places' });

const objectId = objectIdSchema;
const slug = Joi.string().max(64).pattern(SLUG).messages({
  'string.pattern.base': '{{#label}} must be lower-case letters, digits and dashes',
});
const sellerId = idTokenSchema(64);
const count = Joi.number().integer().min(0);
const timestamp = Joi.string().isoDate();

/** Writes name a product or category by a well-formed id (400 otherwise). */
const idParams = Joi.object({ id: objectId.required() });
/** Reads answer 404 for any id that names nothing, malformed ones included. */
const anyIdParams = Joi.object({ id: Joi.string().max(200).custom(canonicalId).required() });

const attributeValue = Joi.alternatives().try(
  plainText(Joi.string().max(500).allow(''), { multiline: false }),
  Joi.number().min(-1e12).max(1e12),
  Joi.boolean(),
);
const attributes = Joi.object()
  .pattern(
    // No `$` or `.`: attribute names become MongoDB field names.
    Joi.string().pattern(/^[A-Za-z][A-Za-z0-9_ -]{0,63}$/),
    attributeValue,
  )
  .max(50);

const productFields = {
  name: visibleLine(200),
  description: plainText(Joi.string().trim().max(5000).allow(''), { multiline: true }),
  price: decimalPrice.greater(0).max(MAX_PRICE).description('decimal, at most 2 decimals: 149.99'),
  currency: Joi.string().valid(...CURRENCIES),
  lowStockThreshold: Joi.number().integer().min(0).max(1_000_000),
  category: slug.allow(null).description('category slug'),
  attributes,
};

export const createProductBody = Joi.object({
  ...productFields,
  name: productFields.name.required(),
  price: productFields.price.required(),
  inventory: Joi.number().integer().min(0).max(MAX_STOCK).required(),
  sellerId: sellerId.description('admin only: create for another seller'),
});

export const updateProductBody = Joi.object(productFields).min(1);

export const listProductsQuery = withinResultWindow(
  Joi.object({
    // An empty search box means no text filter.
    q: Joi.string().trim().max(100).allow(''),
    category: slug.description('category slug (its subcategories included)'),
    minPrice: decimalPrice.min(0).max(MAX_PRICE),
    maxPrice: decimalPrice
      .min(0)
      .max(MAX_PRICE)
      .when('minPrice', { is: Joi.exist(), then: Joi.number().min(Joi.ref('minPrice')) }),
    inStock: Joi.boolean(),
    sellerId,
    sort: Joi.string().valid('price', '-price', 'newest', 'rating').default('newest'),
    ...pageQueryKeys,
  }),
  // A seller pages through all of its own products, an admin through the whole catalogue.
  (query: PageQuery & { sellerId?: string }, user) =>
    user?.role === 'admin' || (user?.role === 'seller' && query.sellerId === user.id),
);

const inventoryBody = Joi.object({
  set: Joi.number().integer().min(0).max(MAX_STOCK).description('absolute free stock'),
  restock: Joi.number()
    .integer()
    .min(1)
    .max(MAX_STOCK)
    .description(`atomic add; the free stock after it may not pass ${MAX_STOCK}`),
  lowStockThreshold: Joi.number().integer().min(0).max(1_000_000),
})
  .oxor('set', 'restock')
  .or('set', 'restock', 'lowStockThreshold');

const categoryName = visibleLine(100);

const imageVariantSchema = Joi.object({
  url: Joi.string().description('immutable: cache it for long'),
  width: count,
  height: count,
});

export const imageSchema = Joi.object({
  id: Joi.string().pattern(IMAGE_ID),
  width: count.description('of the upload'),
  height: count,
  variants: Joi.object(
    Object.fromEntries(VARIANT_NAMES.map((name) => [name, imageVariantSchema])),
  ).label('ImageVariants'),
  createdAt: timestamp,
}).label('Image');

/** An image names its product and its content: 32 hex digits. */
const imageParams = Joi.object({
  id: objectId.required(),
  imageId: Joi.string().pattern(IMAGE_ID).required(),
});
const anyImageParams = Joi.object({
  id: Joi.string().max(200).custom(canonicalId).required(),
  imageId: Joi.string().max(200).required(),
});

export const productSchema = Joi.object({
  id: Joi.string(),
  sellerId: Joi.string(),
  name: Joi.string(),
  description: Joi.string().allow(''),
  price: moneySchema,
  category: Joi.string().allow(null),
  categoryPath: Joi.array().items(Joi.string()),
  attributes: Joi.object().pattern(Joi.string(), attributeValue),
  inventory: Joi.object({ available: count, reserved: count, lowStockThreshold: count }),
  inStock: Joi.boolean(),
  rating: Joi.object({ average: Joi.number().min(0).max(5), count }),
  images: Joi.array().items(imageSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('Product');

export const categorySchema = Joi.object({
  id: Joi.string(),
  name: Joi.string(),
  slug: Joi.string(),
  parentId: Joi.string().allow(null),
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('Category');

export const categoryTreeSchema = Joi.array()
  .items(categorySchema.keys({ children: Joi.array().items(categorySchema) }).label('CategoryNode'))
  .label('CategoryTree');

const availabilitySchema = Joi.object({
  productId: Joi.string(),
  requested: count,
  available: count,
  sufficient: Joi.boolean(),
}).label('Availability');

const theProduct: ResponseSpec = { status: 200, description: 'The product', schema: productSchema };
const theCategory: ResponseSpec = {
  status: 200,
  description: 'The category',
  schema: categorySchema,
};

const cacheNote = 'header X-Cache: HIT | MISS (the service cache)';

export const productApi = defineApi({
  service: 'product',
  tag: { name: 'Products', description: 'Catalogue, categories, stock (product service)' },
  prefixes: ['/api/products'],
  operations: {
    listProducts: {
      method: 'get',
      path: '/api/products',
      summary: 'Search the catalogue',
      description:
        `${cacheNote}. Paged through the first 10,000 results, except for a seller listing its ` +
        'own products (`sellerId`) and an admin, who may page on.',
      access: 'optional',
      query: listProductsQuery,
      response: {
        status: 200,
        description: 'A page of products',
        schema: productSchema,
        list: true,
      },
    },
    createProduct: {
      method: 'post',
      path: '/api/products',
      summary: 'Create a product (seller or admin)',
      access: ['seller', 'admin'],
      body: createProductBody,
      response: {
        status: 201,
        description: 'The product (Location header)',
        schema: productSchema,
      },
      errors: { 403: 'sellerId of another seller (admins only)', 422: 'UNKNOWN_CATEGORY' },
    },
    getProduct: {
      method: 'get',
      path: '/api/products/:id',
      summary: 'One product',
      description: cacheNote,
      access: 'public',
      params: anyIdParams,
      response: theProduct,
      errors: { 404: 'Unknown, deleted or malformed id' },
    },
    updateProduct: {
      method: 'put',
      path: '/api/products/:id',
      summary: 'Update a product, partially (its seller or an admin)',
      access: ['seller', 'admin'],
      params: idParams,
      body: updateProductBody,
      response: theProduct,
      errors: { 403: 'Not its seller', 404: 'Unknown product', 422: 'UNKNOWN_CATEGORY' },
    },
    deleteProduct: {
      method: 'delete',
      path: '/api/products/:id',
      summary: 'Delete a product, softly (its seller or an admin)',
      access: ['seller', 'admin'],
      params: idParams,
      response: deletedResponse,
      errors: { 403: 'Not its seller', 404: 'Unknown product' },
    },
    changeInventory: {
      method: 'put',
      path: '/api/products/:id/inventory',
      summary: 'Set the free stock or restock, and/or the low-stock threshold (seller or admin)',
      access: ['seller', 'admin'],
      params: idParams,
      body: inventoryBody,
      response: theProduct,
      errors: { 403: 'Not its seller', 404: 'Unknown product' },
    },
    getAvailability: {
      method: 'get',
      path: '/api/products/:id/availability',
      summary: 'Whether N units are available (never cached)',
      access: 'public',
      params: idParams,
      query: Joi.object({ quantity: Joi.number().integer().min(1).max(1_000_000).default(1) }),
      response: { status: 200, description: 'Availability', schema: availabilitySchema },
      errors: { 404: 'Unknown product' },
    },
    uploadImage: {
      method: 'post',
      path: '/api/products/:id/images',
      summary: 'Add an image (its seller or an admin): the image bytes are the request body',
      description:
        'JPEG, PNG or WebP, recognised by content (the Content-Type is not trusted), at most ' +
        'IMAGE_MAX_BYTES (413) and IMAGE_MAX_PIXELS; stored as WebP variants ' +
        `${VARIANT_NAMES.join(', ')} without metadata. Anything else: 415 ` +
        'UNSUPPORTED_MEDIA_TYPE. The same bytes again answer 200 with the image already there.',
      access: ['seller', 'admin'],
      params: idParams,
      rawBody: {
        mediaTypes: IMAGE_MEDIA_TYPES,
        maxBytes: MAX_IMAGE_UPLOAD_BYTES,
      },
      response: {
        status: 201,
        description: 'The image (Location header)',
        schema: imageSchema,
      },
      errors: {
        403: 'Not its seller',
        404: 'Unknown product',
        422: 'INVALID_IMAGE (does not decode, too many pixels), IMAGE_LIMIT_REACHED',
      },
    },
    listImages: {
      method: 'get',
      path: '/api/products/:id/images',
      summary: "A product's images, in upload order (not paged: IMAGES_PER_PRODUCT at most)",
      access: 'public',
      params: anyIdParams,
      response: { status: 200, description: 'The images', schema: Joi.array().items(imageSchema) },
      errors: { 404: 'Unknown product' },
    },
    getImage: {
      method: 'get',
      path: '/api/products/:id/images/:imageId',
      summary: 'One image: its variants and their URLs',
      access: 'public',
      params: anyImageParams,
      response: { status: 200, description: 'The image', schema: imageSchema },
      errors: { 404: 'Unknown product or image' },
    },
    getImageVariant: {
      method: 'get',
      path: '/api/products/:id/images/:imageId/:variant',
      summary: "An image variant's bytes (image/webp)",
      description:
        'Cache-Control: public, max-age=31536000, immutable (the URL names the content); ' +
        'ETag, and 304 to a matching If-None-Match.',
      access: 'public',
      params: anyImageParams.keys({
        variant: Joi.string()
          .valid(...VARIANT_NAMES)
          .required(),
      }),
      response: {
        status: 200,
        description: 'The image bytes',
        mediaType: VARIANT_CONTENT_TYPE,
      },
      errors: { 404: 'Unknown product, image or variant' },
    },
    deleteImage: {
      method: 'delete',
      path: '/api/products/:id/images/:imageId',
      summary: 'Remove an image and its objects (its seller or an admin)',
      access: ['seller', 'admin'],
      params: imageParams,
      response: deletedResponse,
      errors: { 403: 'Not its seller', 404: 'Unknown product or image' },
    },
    listCategories: {
      method: 'get',
      path: '/api/products/categories',
      summary: 'The category tree: top-level categories with their children (not paged)',
      access: 'public',
      response: { status: 200, description: 'The tree', schema: categoryTreeSchema },
    },
    createCategory: {
      method: 'post',
      path: '/api/products/categories',
      summary: 'Create a category (admin; slug derived from the name unless given)',
      access: ['admin'],
      body: Joi.object({
        name: categoryName.required(),
        slug,
        parentId: objectId.allow(null),
      }),
      response: {
        status: 201,
        description: 'The category (Location header)',
        schema: categorySchema,
      },
      errors: { 409: 'Slug taken', 422: 'UNKNOWN_CATEGORY (parent), CATEGORY_TOO_DEEP' },
    },
    getCategory: {
      method: 'get',
      path: '/api/products/categories/:id',
      summary: 'One category',
      access: 'public',
      params: anyIdParams,
      response: theCategory,
      errors: { 404: 'Unknown or malformed id' },
    },
    renameCategory: {
      method: 'put',
      path: '/api/products/categories/:id',
      summary: 'Rename a category (admin; the slug stays)',
      access: ['admin'],
      params: idParams,
      body: Joi.object({ name: categoryName.required() }),
      response: theCategory,
      errors: { 404: 'Unknown category' },
    },
  },
});
