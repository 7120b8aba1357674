/**
 * OpenAPI 3 description of the whole public API as seen through the gateway. Endpoint
 * shapes follow the service issues (auth, product, comments, order/payment, blockchain);
 * `security: []` marks the routes the gateway lets through without a token, and a test
 * checks that this matches the gateway's own public-route rule.
 */

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: Schema = {}) => ({ type: 'string', ...extra });
const int = (extra: Schema = {}) => ({ type: 'integer', ...extra });
const obj = (properties: Record<string, Schema>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length ? { required } : {}),
});

const pathParam = (name: string, description = `${name} of the resource`) => ({
  name,
  in: 'path',
  required: true,
  schema: str({ maxLength: 100 }),
  description,
});
const queryParam = (name: string, schema: Schema, description?: string) => ({
  name,
  in: 'query',
  required: false,
  schema,
  ...(description ? { description } : {}),
});
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: str({ maxLength: 200 }),
  description: 'Same key and body: the first answer again; same key, other body: 422.',
};
const pagination = [
  queryParam('page', int({ minimum: 1, default: 1 })),
  queryParam('limit', int({ minimum: 1, maximum: 100, default: 20 })),
];

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});
const json = (description: string, schema: Schema) => ({
  description,
  content: { 'application/json': { schema } },
});

const COMMON_ERRORS = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '413': { $ref: '#/components/responses/PayloadTooLarge' },
  '429': { $ref: '#/components/responses/RateLimited' },
  '503': { $ref: '#/components/responses/Unavailable' },
  '504': { $ref: '#/components/responses/Timeout' },
};
const AUTH_ERRORS = {
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
};

interface OpSpec {
  tag: string;
  summary: string;
  isPublic?: boolean;
  params?: Schema[];
  body?: Schema;
  ok: [string, string, Schema?];
  errors?: Record<string, string>;
}

function op(spec: OpSpec): Operation {
  const [status, description, schema] = spec.ok;
  const extraErrors = Object.fromEntries(
    Object.entries(spec.errors ?? {}).map(([code, text]) => [code, errorResponse(text)]),
  );
  return {
    tags: [spec.tag],
    summary: spec.summary,
    security: spec.isPublic ? [] : [{ bearerAuth: [] }],
    ...(spec.params ? { parameters: spec.params } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: spec.body } },
          },
        }
      : {}),
    responses: {
      [status]: schema ? json(description, schema) : { description },
      ...COMMON_ERRORS,
      ...(spec.isPublic ? {} : AUTH_ERRORS),
      ...extraErrors,
    },
  };
}

const money = obj({ amount: int({ minimum: 0, description: 'minor units' }), currency: str() });
const paymentDetails = obj(
  { method: str({ enum: ['card'] }), token: str({ example: 'tok_visa', maxLength: 100 }) },
  ['method', 'token'],
);

const schemas: Record<string, Schema> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: str({ example: 'VALIDATION_ERROR' }),
          message: str(),
          details: {},
          requestId: str(),
        },
      },
    },
  },
  User: obj({
    id: str(),
    email: str({ format: 'email' }),
    name: str(),
    role: str({ enum: ['customer', 'seller', 'admin'] }),
    createdAt: str({ format: 'date-time' }),
  }),
  Tokens: obj({
    accessToken: str(),
    refreshToken: str(),
    tokenType: str({ example: 'Bearer' }),
    expiresIn: int({ description: 'seconds' }),
  }),
  Product: obj({
    id: str(),
    name: str(),
    description: str(),
    price: money,
    inventory: int({ minimum: 0 }),
    category: str(),
    sellerId: str(),
    attributes: { type: 'object', additionalProperties: true },
    rating: obj({ average: { type: 'number' }, count: int() }),
  }),
  ProductInput: obj(
    {
      name: str({ maxLength: 200 }),
      description: str({ maxLength: 5000 }),
      price: { type: 'number', exclusiveMinimum: 0, multipleOf: 0.01 },
      inventory: int({ minimum: 0 }),
      category: str(),
      attributes: { type: 'object', additionalProperties: true },
    },
    ['name', 'price', 'inventory', 'category'],
  ),
  Category: obj({ id: str(), name: str(), parentId: str({ nullable: true }) }),
  Comment: obj({
    id: str(),
    productId: str(),
    userId: str(),
    text: str(),
    rating: int({ minimum: 1, maximum: 5 }),
    parentId: str({ nullable: true }),
    editedAt: str({ format: 'date-time', nullable: true }),
    replies: { type: 'array', items: ref('Comment') },
  }),
  Order: obj({
    id: str(),
    userId: str(),
    status: str({
      enum: [
        'PENDING',
        'AWAITING_PAYMENT',
        'CONFIRMED',
        'SHIPPED',
        'DELIVERED',
        'CANCELLED',
        'FAILED',
      ],
    }),
    items: {
      type: 'array',
      items: obj({ productId: str(), quantity: int(), unitPrice: money }),
    },
    total: money,
    createdAt: str({ format: 'date-time' }),
  }),
  Payment: obj({
    id: str(),
    orderId: str(),
    status: str({ enum: ['INITIATED', 'COMPLETED', 'FAILED', 'REFUNDED', 'PARTIALLY_REFUNDED'] }),
    amount: money,
    refunded: money,
  }),
  AnchorRecord: obj({
    recordId: str(),
    status: str({ enum: ['pending', 'anchored', 'verified', 'tampered'] }),
    leaf: str(),
    proof: { type: 'array', items: str() },
    root: str(),
    transactionHash: str(),
    blockNumber: int(),
  }),
  Page: obj({ items: { type: 'array', items: {} }, total: int(), page: int(), limit: int() }),
};

const tags = [
  { name: 'Auth', description: 'Accounts, tokens, profiles (auth service)' },
  { name: 'Products', description: 'Catalogue, categories, stock (product service)' },
  { name: 'Comments', description: 'Reviews, replies, moderation (comments service)' },
  { name: 'Orders', description: 'Orders and their saga (order service)' },
  { name: 'Payments', description: 'Payments and refunds (payment service)' },
  { name: 'Blockchain', description: 'Anchors and their verification' },
  { name: 'Gateway', description: 'Health, metrics and these docs' },
];

const paths: Record<string, Record<string, Operation>> = {
  '/api/auth/register': {
    post: op({
      tag: 'Auth',
      summary: 'Create an account (role customer)',
      isPublic: true,
      body: obj({ email: str({ format: 'email' }), password: str({ minLength: 8 }), name: str() }, [
        'email',
        'password',
        'name',
      ]),
      ok: ['201', 'The user and a token pair', obj({ user: ref('User'), tokens: ref('Tokens') })],
      errors: { '409': 'Email already registered' },
    }),
  },
  '/api/auth/login': {
    post: op({
      tag: 'Auth',
      summary: 'Sign in',
      isPublic: true,
      body: obj({ email: str({ format: 'email' }), password: str() }, ['email', 'password']),
      ok: ['200', 'A token pair', obj({ user: ref('User'), tokens: ref('Tokens') })],
      errors: { '401': 'Wrong email or password', '423': 'Account locked for a while' },
    }),
  },
  '/api/auth/refresh': {
    post: op({
      tag: 'Auth',
      summary: 'Rotate a refresh token into a new pair',
      isPublic: true,
      body: obj({ refreshToken: str() }, ['refreshToken']),
      ok: ['200', 'A new token pair', ref('Tokens')],
      errors: { '401': 'Unknown, expired or reused refresh token' },
    }),
  },
  '/api/auth/logout': {
    post: op({
      tag: 'Auth',
      summary: 'Revoke a refresh token',
      body: obj({ refreshToken: str() }, ['refreshToken']),
      ok: ['204', 'Revoked'],
    }),
  },
  '/api/auth/verify': {
    get: op({
      tag: 'Auth',
      summary: 'Claims of the presented access token',
      ok: ['200', 'Claims', {}],
    }),
  },
  '/api/auth/profile': {
    get: op({ tag: 'Auth', summary: 'Own profile', ok: ['200', 'The user', ref('User')] }),
    put: op({
      tag: 'Auth',
      summary: 'Update own profile',
      body: obj({ name: str({ maxLength: 100 }) }),
      ok: ['200', 'The user', ref('User')],
    }),
  },
  '/api/auth/password': {
    put: op({
      tag: 'Auth',
      summary: 'Change password (revokes refresh tokens)',
      body: obj({ currentPassword: str(), newPassword: str({ minLength: 8 }) }, [
        'currentPassword',
        'newPassword',
      ]),
      ok: ['204', 'Changed'],
    }),
  },
  '/api/users/profile': {
    get: op({ tag: 'Auth', summary: 'Own profile (alias)', ok: ['200', 'The user', ref('User')] }),
    put: op({
      tag: 'Auth',
      summary: 'Update own profile (alias)',
      body: obj({ name: str({ maxLength: 100 }) }),
      ok: ['200', 'The user', ref('User')],
    }),
  },
  '/api/users': {
    get: op({
      tag: 'Auth',
      summary: 'List users (admin)',
      params: pagination,
      ok: ['200', 'A page of users', ref('Page')],
    }),
  },
  '/api/users/{id}/role': {
    put: op({
      tag: 'Auth',
      summary: 'Change a role (admin)',
      params: [pathParam('id')],
      body: obj({ role: str({ enum: ['customer', 'seller', 'admin'] }) }, ['role']),
      ok: ['200', 'The user', ref('User')],
      errors: { '404': 'Unknown user' },
    }),
  },
  '/api/users/{id}': {
    delete: op({
      tag: 'Auth',
      summary: 'Delete a user (admin)',
      params: [pathParam('id')],
      ok: ['204', 'Deleted'],
      errors: { '404': 'Unknown user' },
    }),
  },
  '/api/products': {
    get: op({
      tag: 'Products',
      summary: 'Search the catalogue',
      isPublic: true,
      params: [
        queryParam('q', str({ maxLength: 200 }), 'text search on name and description'),
        queryParam('category', str()),
        queryParam('minPrice', { type: 'number', minimum: 0 }),
        queryParam('maxPrice', { type: 'number', minimum: 0 }),
        queryParam('inStock', { type: 'boolean' }),
        queryParam('sellerId', str()),
        queryParam('sort', str({ enum: ['price', '-price', 'newest', 'rating'] })),
        ...pagination,
      ],
      ok: ['200', 'A page of products', ref('Page')],
    }),
    post: op({
      tag: 'Products',
      summary: 'Create a product (seller or admin)',
      body: ref('ProductInput'),
      ok: ['201', 'The product', ref('Product')],
    }),
  },
  '/api/products/categories': {
    get: op({
      tag: 'Products',
      summary: 'Category tree',
      isPublic: true,
      ok: ['200', 'Categories', { type: 'array', items: ref('Category') }],
    }),
    post: op({
      tag: 'Products',
      summary: 'Create a category (admin)',
      body: obj({ name: str(), parentId: str() }, ['name']),
      ok: ['201', 'The category', ref('Category')],
      errors: { '409': 'Name taken' },
    }),
  },
  '/api/products/categories/{id}': {
    put: op({
      tag: 'Products',
      summary: 'Rename a category (admin)',
      params: [pathParam('id')],
      body: obj({ name: str() }, ['name']),
      ok: ['200', 'The category', ref('Category')],
    }),
  },
  '/api/products/{id}': {
    get: op({
      tag: 'Products',
      summary: 'One product',
      isPublic: true,
      params: [pathParam('id')],
      ok: ['200', 'The product', ref('Product')],
      errors: { '404': 'Unknown product' },
    }),
    put: op({
      tag: 'Products',
      summary: 'Update a product (its seller or an admin)',
      params: [pathParam('id')],
      body: ref('ProductInput'),
      ok: ['200', 'The product', ref('Product')],
      errors: { '404': 'Unknown product' },
    }),
    delete: op({
      tag: 'Products',
      summary: 'Delete a product (its seller or an admin)',
      params: [pathParam('id')],
      ok: ['204', 'Deleted'],
      errors: { '404': 'Unknown product' },
    }),
  },
  '/api/products/{id}/inventory': {
    put: op({
      tag: 'Products',
      summary: 'Restock or set stock (seller or admin)',
      params: [pathParam('id')],
      body: obj({ set: int({ minimum: 0 }), add: int({ minimum: 1 }) }),
      ok: ['200', 'The product', ref('Product')],
    }),
  },
  '/api/products/{id}/availability': {
    get: op({
      tag: 'Products',
      summary: 'Whether N units are available',
      isPublic: true,
      params: [pathParam('id'), queryParam('quantity', int({ minimum: 1 }))],
      ok: ['200', 'Availability', obj({ available: { type: 'boolean' }, inStock: int() })],
    }),
  },
  '/api/comments': {
    post: op({
      tag: 'Comments',
      summary: 'Review a product, or reply to a comment',
      body: obj(
        {
          productId: str(),
          text: str({ maxLength: 5000 }),
          rating: int({ minimum: 1, maximum: 5 }),
          parentId: str(),
        },
        ['productId', 'text'],
      ),
      ok: ['201', 'The comment', ref('Comment')],
      errors: { '409': 'One review per user per product' },
    }),
  },
  '/api/comments/product/{productId}': {
    get: op({
      tag: 'Comments',
      summary: "A product's reviews with nested replies",
      isPublic: true,
      params: [
        pathParam('productId'),
        queryParam('sort', str({ enum: ['newest', 'helpful'] })),
        ...pagination,
      ],
      ok: ['200', 'A page of reviews', ref('Page')],
    }),
  },
  '/api/comments/{id}': {
    put: op({
      tag: 'Comments',
      summary: 'Edit own comment',
      params: [pathParam('id')],
      body: obj({ text: str({ maxLength: 5000 }), rating: int({ minimum: 1, maximum: 5 }) }),
      ok: ['200', 'The comment', ref('Comment')],
    }),
    delete: op({
      tag: 'Comments',
      summary: 'Delete a comment (author or admin)',
      params: [pathParam('id')],
      ok: ['204', 'Deleted (a tombstone when it has replies)'],
    }),
  },
  '/api/comments/{id}/flag': {
    post: op({
      tag: 'Comments',
      summary: 'Flag a comment',
      params: [pathParam('id')],
      body: obj({ reason: str({ maxLength: 500 }) }, ['reason']),
      ok: ['201', 'Flagged'],
      errors: { '409': 'Already flagged by this user' },
    }),
  },
  '/api/comments/{id}/moderate': {
    put: op({
      tag: 'Comments',
      summary: 'Moderate a comment (admin)',
      params: [pathParam('id')],
      body: obj({ action: str({ enum: ['approve', 'hide', 'remove'] }) }, ['action']),
      ok: ['200', 'The comment', ref('Comment')],
    }),
  },
  '/api/orders': {
    post: op({
      tag: 'Orders',
      summary: 'Place an order (starts the saga)',
      params: [idempotencyKey],
      body: obj(
        {
          items: {
            type: 'array',
            minItems: 1,
            items: obj({ productId: str(), quantity: int({ minimum: 1 }) }, [
              'productId',
              'quantity',
            ]),
          },
          payment: paymentDetails,
          shippingAddress: { type: 'object' },
        },
        ['items', 'shippingAddress'],
      ),
      ok: ['201', 'The order, PENDING', ref('Order')],
      errors: { '422': 'Idempotency key reused with another body' },
    }),
    get: op({
      tag: 'Orders',
      summary: 'Own orders (admin: all)',
      params: [queryParam('status', str()), ...pagination],
      ok: ['200', 'A page of orders', ref('Page')],
    }),
  },
  '/api/orders/{id}': {
    get: op({
      tag: 'Orders',
      summary: 'One order (owner or admin)',
      params: [pathParam('id')],
      ok: ['200', 'The order', ref('Order')],
      errors: { '404': 'Unknown order' },
    }),
  },
  '/api/orders/{id}/history': {
    get: op({
      tag: 'Orders',
      summary: 'Every status transition',
      params: [pathParam('id')],
      ok: ['200', 'Transitions', { type: 'array', items: { type: 'object' } }],
    }),
  },
  '/api/orders/{id}/cancel': {
    put: op({
      tag: 'Orders',
      summary: 'Cancel before shipping (owner or admin)',
      params: [pathParam('id')],
      ok: ['200', 'The order', ref('Order')],
      errors: { '409': 'Not cancellable in its state' },
    }),
  },
  '/api/orders/{id}/status': {
    put: op({
      tag: 'Orders',
      summary: 'Mark SHIPPED or DELIVERED (seller or admin)',
      params: [pathParam('id')],
      body: obj({ status: str({ enum: ['SHIPPED', 'DELIVERED'] }) }, ['status']),
      ok: ['200', 'The order', ref('Order')],
      errors: { '409': 'Illegal transition' },
    }),
  },
  '/api/payments/initiate': {
    post: op({
      tag: 'Payments',
      summary: 'Pay an order waiting in AWAITING_PAYMENT (owner)',
      params: [idempotencyKey],
      body: obj({ orderId: str(), payment: paymentDetails }, ['orderId', 'payment']),
      ok: ['201', 'The payment', ref('Payment')],
      errors: { '402': 'Declined (the order keeps waiting)' },
    }),
  },
  '/api/payments/{id}': {
    get: op({
      tag: 'Payments',
      summary: 'One payment',
      params: [pathParam('id')],
      ok: ['200', 'The payment', ref('Payment')],
    }),
  },
  '/api/payments/order/{orderId}': {
    get: op({
      tag: 'Payments',
      summary: "An order's payments",
      params: [pathParam('orderId')],
      ok: ['200', 'Payments', { type: 'array', items: ref('Payment') }],
    }),
  },
  '/api/payments/{id}/refund': {
    post: op({
      tag: 'Payments',
      summary: 'Refund, fully or partly (admin)',
      params: [pathParam('id')],
      body: obj({ amount: int({ minimum: 1, description: 'minor units' }), reason: str() }),
      ok: ['201', 'The payment', ref('Payment')],
      errors: { '422': 'Refunds would exceed the amount paid' },
    }),
  },
  '/api/blockchain/order/{orderId}': {
    get: op({
      tag: 'Blockchain',
      summary: "An order's anchored records with proofs",
      params: [pathParam('orderId')],
      ok: ['200', 'Records', { type: 'array', items: ref('AnchorRecord') }],
    }),
  },
  '/api/blockchain/payment/{paymentId}': {
    get: op({
      tag: 'Blockchain',
      summary: "A payment's anchored records with proofs",
      params: [pathParam('paymentId')],
      ok: ['200', 'Records', { type: 'array', items: ref('AnchorRecord') }],
    }),
  },
  '/api/blockchain/verify/{transactionHash}': {
    get: op({
      tag: 'Blockchain',
      summary: 'What a transaction anchored, and whether each record still matches',
      params: [pathParam('transactionHash')],
      ok: ['200', 'Records', { type: 'array', items: ref('AnchorRecord') }],
    }),
  },
  '/health': {
    get: {
      tags: ['Gateway'],
      summary: 'Readiness of every service, with latency and breaker state',
      security: [],
      responses: {
        '200': json('All up', { type: 'object' }),
        '503': json('Some down (named in `down`)', { type: 'object' }),
      },
    },
  },
  '/health/live': {
    get: {
      tags: ['Gateway'],
      summary: 'The gateway process answers',
      security: [],
      responses: { '200': { description: 'Alive' } },
    },
  },
  '/health/ready': {
    get: {
      tags: ['Gateway'],
      summary: "The gateway's own dependencies (Redis)",
      security: [],
      responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
    },
  },
  '/metrics': {
    get: {
      tags: ['Gateway'],
      summary: 'Prometheus metrics',
      security: [],
      responses: { '200': { description: 'Text exposition format' } },
    },
  },
};

export function openApiDocument(serverUrl = '/'): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'E-commerce platform API',
      version: '0.1.0',
      description:
        'Every route goes through the API gateway. Errors always have the shape ' +
        '`{ "error": { "code", "message", "details", "requestId" } }`. Rate-limit state is in ' +
        'the `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.',
    },
    servers: [{ url: serverUrl }],
    tags,
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (ES256)' },
      },
      schemas,
      responses: {
        BadRequest: errorResponse('Invalid input (VALIDATION_ERROR, MALFORMED_JSON)'),
        Unauthorized: errorResponse('Missing, malformed, expired or invalid access token'),
        Forbidden: errorResponse('Authenticated but not allowed'),
        PayloadTooLarge: errorResponse('Body above the size limit'),
        RateLimited: {
          ...errorResponse('Too many requests; see Retry-After'),
          headers: { 'Retry-After': { schema: int() } },
        },
        Unavailable: errorResponse('Service unavailable or its circuit open'),
        Timeout: errorResponse('Service did not answer in time'),
      },
    },
  };
}
