/**
 * OpenAPI 3 description of the whole public API as seen through the gateway. Endpoints and
 * shapes follow the services' own routes (each service's src/http) and READMEs;
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

const money = obj(
  { amount: int({ minimum: 0, description: 'minor units (cents)' }), currency: str() },
  ['amount', 'currency'],
);
const nullableStr = (extra: Schema = {}) => str({ nullable: true, ...extra });
const dateTime = (extra: Schema = {}) => str({ format: 'date-time', ...extra });
const paymentDetails = obj(
  { method: str({ enum: ['card'] }), token: str({ example: 'tok_visa', maxLength: 200 }) },
  ['method', 'token'],
);
const userAddress = obj(
  {
    line1: str({ maxLength: 200 }),
    line2: str({ maxLength: 200 }),
    city: str({ maxLength: 100 }),
    postalCode: str({ maxLength: 20 }),
    region: str({ maxLength: 100 }),
    country: str({ pattern: '^[A-Z]{2}$' }),
  },
  ['line1', 'city', 'country'],
);
const shippingAddress = obj(
  {
    name: str({ maxLength: 200 }),
    line1: str({ maxLength: 200 }),
    line2: str({ maxLength: 200 }),
    city: str({ maxLength: 100 }),
    state: str({ maxLength: 100 }),
    postalCode: str({ maxLength: 20 }),
    country: str({ pattern: '^[A-Z]{2}$' }),
  },
  ['name', 'line1', 'city', 'country'],
);
const roles = ['customer', 'seller', 'admin'];
const currencies = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'CHF'];
/** `{ items, page, limit, total, totalPages }` (auth users, comments). */
const itemsPage = (item: Schema) =>
  obj(
    {
      items: { type: 'array', items: item },
      page: int(),
      limit: int(),
      total: int(),
      totalPages: int(),
    },
    ['items', 'page', 'limit', 'total', 'totalPages'],
  );
const productFields = {
  name: str({ maxLength: 200 }),
  description: str({ maxLength: 5000 }),
  price: {
    type: 'number',
    exclusiveMinimum: true,
    minimum: 0,
    multipleOf: 0.01,
    description: 'decimal, e.g. 149.99',
  },
  currency: str({ enum: currencies }),
  lowStockThreshold: int({ minimum: 0 }),
  category: nullableStr({ description: 'category slug' }),
  attributes: {
    type: 'object',
    additionalProperties: { oneOf: [str(), { type: 'number' }, { type: 'boolean' }] },
  },
};

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
  User: obj(
    {
      id: str(),
      email: str({ format: 'email' }),
      name: str(),
      role: str({ enum: roles }),
      phone: str(),
      address: userAddress,
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['id', 'email', 'name', 'role', 'createdAt', 'updatedAt'],
  ),
  UserEnvelope: obj({ user: ref('User') }, ['user']),
  Session: obj(
    {
      user: ref('User'),
      accessToken: str(),
      refreshToken: str(),
      tokenType: str({ enum: ['Bearer'] }),
      expiresIn: int({ description: 'access token lifetime, seconds' }),
      refreshTokenExpiresAt: dateTime(),
    },
    ['user', 'accessToken', 'refreshToken', 'tokenType', 'expiresIn', 'refreshTokenExpiresAt'],
  ),
  Product: obj({
    id: str(),
    sellerId: str(),
    name: str(),
    description: str(),
    price: { type: 'number', description: 'decimal' },
    priceCents: int(),
    currency: str({ enum: currencies }),
    category: nullableStr({ description: 'slug' }),
    categoryPath: { type: 'array', items: str() },
    attributes: { type: 'object', additionalProperties: true },
    inventory: obj({ available: int(), reserved: int(), lowStockThreshold: int() }),
    inStock: { type: 'boolean' },
    rating: obj({ average: { type: 'number' }, count: int() }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
  }),
  ProductCreate: obj(
    {
      ...productFields,
      inventory: int({ minimum: 0 }),
      sellerId: str({ description: 'admin only: create for this seller' }),
    },
    ['name', 'price', 'inventory'],
  ),
  ProductUpdate: { ...obj(productFields), minProperties: 1 },
  ProductPage: obj(
    {
      items: { type: 'array', items: ref('Product') },
      total: int(),
      page: int(),
      limit: int(),
      pages: int(),
    },
    ['items', 'total', 'page', 'limit', 'pages'],
  ),
  Category: obj({
    id: str(),
    name: str(),
    slug: str(),
    parentId: nullableStr(),
    createdAt: dateTime(),
    updatedAt: dateTime(),
  }),
  CategoryNode: {
    allOf: [
      ref('Category'),
      { type: 'object', properties: { children: { type: 'array', items: ref('Category') } } },
    ],
  },
  Comment: obj({
    id: str(),
    productId: str(),
    parentId: nullableStr(),
    depth: int({ minimum: 0 }),
    author: {
      type: 'object',
      nullable: true,
      properties: { id: nullableStr(), name: nullableStr() },
    },
    text: nullableStr({ description: 'null once deleted (tombstone)' }),
    rating: int({ minimum: 1, maximum: 5, nullable: true, description: 'reviews only' }),
    status: str({ enum: ['visible', 'hidden', 'deleted'] }),
    deleted: { type: 'boolean' },
    helpfulCount: int(),
    replyCount: int(),
    createdAt: dateTime(),
    updatedAt: dateTime(),
    editedAt: dateTime({ nullable: true }),
    moderation: obj({ flags: int(), flagsSinceReview: int(), hiddenReason: nullableStr() }),
    replies: { type: 'array', items: ref('Comment'), description: 'in lists only' },
  }),
  Order: obj({
    id: str({ format: 'uuid' }),
    userId: str(),
    status: str({
      enum: [
        'PENDING',
        'AWAITING_PAYMENT',
        'PAYMENT_PROCESSING',
        'CONFIRMED',
        'SHIPPED',
        'DELIVERED',
        'FAILED',
        'CANCELLED',
      ],
    }),
    items: {
      type: 'array',
      items: obj({
        productId: str(),
        name: str(),
        sellerId: nullableStr(),
        quantity: int(),
        unitPrice: money,
        lineTotal: money,
      }),
    },
    total: money,
    refunded: money,
    paymentMethod: nullableStr(),
    paymentId: nullableStr(),
    shippingAddress,
    failureReason: nullableStr(),
    correlationId: str(),
    reservationExpiresAt: dateTime({ nullable: true }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
  }),
  OrderPage: obj(
    {
      data: { type: 'array', items: ref('Order') },
      pagination: obj({ page: int(), limit: int(), total: int(), pages: int() }),
    },
    ['data', 'pagination'],
  ),
  OrderHistory: obj({
    orderId: str(),
    history: {
      type: 'array',
      items: obj({
        from: nullableStr(),
        to: str(),
        at: dateTime(),
        reason: nullableStr(),
        cause: {
          type: 'object',
          description:
            "{ type: 'request', requestId, userId } | { type: 'event', eventId, eventType } | { type: 'system', name }",
        },
      }),
    },
  }),
  Refund: obj({
    id: str(),
    amount: money,
    status: str(),
    reason: nullableStr(),
    cause: str(),
    createdAt: dateTime(),
    completedAt: dateTime({ nullable: true }),
  }),
  Payment: obj({
    id: str({ format: 'uuid' }),
    orderId: str(),
    userId: str(),
    status: str({
      enum: [
        'PENDING',
        'AWAITING_PAYMENT',
        'PROCESSING',
        'COMPLETED',
        'FAILED',
        'CANCELLED',
        'PARTIALLY_REFUNDED',
        'REFUNDED',
      ],
    }),
    amount: money,
    refunded: money,
    method: nullableStr(),
    chargeId: nullableStr(),
    failure: { type: 'object', nullable: true, properties: { code: str(), reason: str() } },
    attempts: {
      type: 'array',
      items: obj({
        attempt: int(),
        source: str(),
        status: str(),
        failure: { type: 'object', nullable: true },
        createdAt: dateTime(),
        completedAt: dateTime({ nullable: true }),
      }),
    },
    refunds: { type: 'array', items: ref('Refund') },
    createdAt: dateTime(),
    updatedAt: dateTime(),
  }),
  AnchorRecord: obj({
    recordType: str({ example: 'order' }),
    recordId: str(),
    sourceId: str(),
    status: str({ enum: ['pending', 'anchored', 'verified', 'tampered'] }),
    reason: str({ description: 'why tampered, or only anchored' }),
    anchoredAt: dateTime({ nullable: true }),
    receipt: {
      type: 'object',
      description:
        'Everything needed to check the record against the chain: canonical, salt, leaf, proof, ' +
        'batchId, onChainBatchId, root, previousRoot, chainId, contractAddress, txHash, ' +
        'blockNumber, blockHash, blockTimestamp, verifyCall { to, data }, serializationVersion',
      additionalProperties: true,
    },
  }),
  AnchorTransaction: obj({
    service: str({ enum: ['order', 'payment'] }),
    txHash: str(),
    batchId: str(),
    root: str(),
    blockNumber: int({ nullable: true }),
    chainId: int({ nullable: true }),
    contractAddress: nullableStr(),
    recordCount: int({ description: "the batch's full size (records: the caller's own)" }),
    records: { type: 'array', items: ref('AnchorRecord') },
  }),
};

const tags = [
  { name: 'Auth', description: 'Accounts, tokens, profiles (auth service)' },
  { name: 'Products', description: 'Catalogue, categories, stock (product service)' },
  { name: 'Comments', description: 'Reviews, replies, moderation (comments service)' },
  { name: 'Orders', description: 'Orders and their saga (order service)' },
  { name: 'Payments', description: 'Payments and refunds (payment service)' },
  { name: 'Blockchain', description: 'Anchors and their verification (order, payment services)' },
  { name: 'Gateway', description: 'Health, metrics and these docs' },
];

const LOCKED =
  'RATE_LIMITED with details.reason account_locked and Retry-After (repeated failed logins), or the gateway budget';

const paths: Record<string, Record<string, Operation>> = {
  '/api/auth/register': {
    post: op({
      tag: 'Auth',
      summary: 'Create an account (role customer) and sign in',
      isPublic: true,
      body: obj(
        {
          email: str({ format: 'email', maxLength: 254 }),
          password: str({
            minLength: 8,
            maxLength: 256,
            description:
              'NIST SP 800-63B: any characters, no composition rules; refused when in the list of breached passwords',
          }),
          name: str({ maxLength: 100 }),
        },
        ['email', 'password', 'name'],
      ),
      ok: ['201', 'A session', ref('Session')],
      errors: { '409': 'Email already registered' },
    }),
  },
  '/api/auth/login': {
    post: op({
      tag: 'Auth',
      summary: 'Sign in',
      isPublic: true,
      body: obj({ email: str({ format: 'email' }), password: str() }, ['email', 'password']),
      ok: ['200', 'A session', ref('Session')],
      errors: { '401': 'Wrong email or password', '429': LOCKED },
    }),
  },
  '/api/auth/refresh': {
    post: op({
      tag: 'Auth',
      summary: 'Rotate a refresh token into a new session',
      isPublic: true,
      body: obj({ refreshToken: str() }, ['refreshToken']),
      ok: ['200', 'A new session', ref('Session')],
      errors: { '401': 'Unknown, expired, revoked or reused refresh token' },
    }),
  },
  '/api/auth/logout': {
    post: op({
      tag: 'Auth',
      summary: "Revoke this login's refresh token family (no access token needed; idempotent)",
      isPublic: true,
      body: obj({ refreshToken: str() }, ['refreshToken']),
      ok: ['204', 'Revoked'],
    }),
  },
  '/api/auth/logout-all': {
    post: op({
      tag: 'Auth',
      summary: 'Revoke every refresh token of the caller',
      ok: ['200', 'How many were revoked', obj({ revoked: int() }, ['revoked'])],
    }),
  },
  '/api/auth/verify': {
    get: op({
      tag: 'Auth',
      summary: 'The presented access token, verified',
      ok: [
        '200',
        'Valid',
        obj({ valid: { type: 'boolean' }, user: { type: 'object' }, claims: { type: 'object' } }),
      ],
    }),
  },
  '/api/auth/profile': {
    get: op({
      tag: 'Auth',
      summary: 'Own profile',
      ok: ['200', 'The user', ref('UserEnvelope')],
      errors: { '404': 'Account gone' },
    }),
    put: op({
      tag: 'Auth',
      summary: 'Update own profile (null removes phone or address)',
      body: {
        ...obj({
          name: str({ maxLength: 100 }),
          phone: nullableStr(),
          address: { ...userAddress, nullable: true },
        }),
        minProperties: 1,
      },
      ok: ['200', 'The user', ref('UserEnvelope')],
      errors: { '404': 'Account gone' },
    }),
  },
  '/api/auth/password': {
    put: op({
      tag: 'Auth',
      summary: 'Change password (revokes every refresh token, answers a new session)',
      body: obj({ currentPassword: str(), newPassword: str() }, ['currentPassword', 'newPassword']),
      ok: ['200', 'A new session', ref('Session')],
      errors: { '403': 'Wrong current password', '429': LOCKED },
    }),
  },
  '/api/users/profile': {
    get: op({
      tag: 'Auth',
      summary: 'Own profile (alias)',
      ok: ['200', 'The user', ref('UserEnvelope')],
    }),
    put: op({
      tag: 'Auth',
      summary: 'Update own profile (alias)',
      body: {
        ...obj({
          name: str({ maxLength: 100 }),
          phone: nullableStr(),
          address: { ...userAddress, nullable: true },
        }),
        minProperties: 1,
      },
      ok: ['200', 'The user', ref('UserEnvelope')],
    }),
  },
  '/api/users': {
    get: op({
      tag: 'Auth',
      summary: 'List users (admin)',
      params: [...pagination, queryParam('role', str({ enum: roles }))],
      ok: ['200', 'A page of users', itemsPage(ref('User'))],
    }),
  },
  '/api/users/{id}': {
    get: op({
      tag: 'Auth',
      summary: 'One user (admin)',
      params: [pathParam('id', 'user id (24 hex characters)')],
      ok: ['200', 'The user', ref('UserEnvelope')],
      errors: { '404': 'Unknown user' },
    }),
    delete: op({
      tag: 'Auth',
      summary: 'Delete a user (admin)',
      params: [pathParam('id', 'user id (24 hex characters)')],
      ok: ['204', 'Deleted'],
      errors: { '404': 'Unknown user', '422': 'SELF_DELETE' },
    }),
  },
  '/api/users/{id}/role': {
    put: op({
      tag: 'Auth',
      summary: 'Change a role (admin)',
      params: [pathParam('id', 'user id (24 hex characters)')],
      body: obj({ role: str({ enum: roles }) }, ['role']),
      ok: ['200', 'The user', ref('UserEnvelope')],
      errors: { '404': 'Unknown user', '422': 'SELF_ROLE_CHANGE' },
    }),
  },
  '/api/products': {
    get: op({
      tag: 'Products',
      summary:
        'Search the catalogue (header X-Upstream-Cache: the service cache; X-Cache: the gateway cache)',
      isPublic: true,
      params: [
        queryParam('q', str({ maxLength: 100 }), 'text search on name and description'),
        queryParam('category', str(), 'category slug (its subcategories included)'),
        queryParam('minPrice', { type: 'number', minimum: 0 }),
        queryParam('maxPrice', { type: 'number', minimum: 0 }),
        queryParam('inStock', { type: 'boolean' }),
        queryParam('sellerId', str()),
        queryParam(
          'sort',
          str({ enum: ['newest', 'price', '-price', 'rating'], default: 'newest' }),
        ),
        queryParam('page', int({ minimum: 1, maximum: 10000, default: 1 })),
        queryParam('limit', int({ minimum: 1, maximum: 100, default: 20 })),
      ],
      ok: ['200', 'A page of products', ref('ProductPage')],
    }),
    post: op({
      tag: 'Products',
      summary: 'Create a product (seller or admin)',
      body: ref('ProductCreate'),
      ok: ['201', 'The product (Location header)', ref('Product')],
    }),
  },
  '/api/products/categories': {
    get: op({
      tag: 'Products',
      summary: 'Category tree',
      isPublic: true,
      ok: [
        '200',
        'Categories',
        obj({ items: { type: 'array', items: ref('CategoryNode') } }, ['items']),
      ],
    }),
    post: op({
      tag: 'Products',
      summary: 'Create a category (admin; slug derived from the name unless given)',
      body: obj({ name: str({ maxLength: 100 }), slug: str(), parentId: nullableStr() }, ['name']),
      ok: ['201', 'The category', ref('Category')],
      errors: { '409': 'Slug taken' },
    }),
  },
  '/api/products/categories/{id}': {
    put: op({
      tag: 'Products',
      summary: 'Rename a category (admin; the slug stays)',
      params: [pathParam('id')],
      body: obj({ name: str({ maxLength: 100 }) }, ['name']),
      ok: ['200', 'The category', ref('Category')],
      errors: { '404': 'Unknown category' },
    }),
  },
  '/api/products/{id}': {
    get: op({
      tag: 'Products',
      summary: 'One product',
      isPublic: true,
      params: [pathParam('id')],
      ok: ['200', 'The product', ref('Product')],
      errors: { '404': 'Unknown, deleted or malformed id' },
    }),
    put: op({
      tag: 'Products',
      summary: 'Update a product, partially (its seller or an admin)',
      params: [pathParam('id')],
      body: ref('ProductUpdate'),
      ok: ['200', 'The product', ref('Product')],
      errors: { '404': 'Unknown product' },
    }),
    delete: op({
      tag: 'Products',
      summary: 'Delete a product, softly (its seller or an admin)',
      params: [pathParam('id')],
      ok: ['204', 'Deleted'],
      errors: { '404': 'Unknown product' },
    }),
  },
  '/api/products/{id}/inventory': {
    put: op({
      tag: 'Products',
      summary: 'Set the free stock or restock, and/or the low-stock threshold (seller or admin)',
      params: [pathParam('id')],
      body: {
        ...obj({
          set: int({ minimum: 0, description: 'absolute free stock' }),
          restock: int({ minimum: 1, description: 'atomic add' }),
          lowStockThreshold: int({ minimum: 0 }),
        }),
        minProperties: 1,
        description: 'At most one of set and restock.',
      },
      ok: ['200', 'The product', ref('Product')],
      errors: { '404': 'Unknown product' },
    }),
  },
  '/api/products/{id}/availability': {
    get: op({
      tag: 'Products',
      summary: 'Whether N units are available (never cached)',
      isPublic: true,
      params: [pathParam('id'), queryParam('quantity', int({ minimum: 1, default: 1 }))],
      ok: [
        '200',
        'Availability',
        obj({
          productId: str(),
          requested: int(),
          available: int(),
          sufficient: { type: 'boolean' },
        }),
      ],
      errors: { '404': 'Unknown product' },
    }),
  },
  '/api/comments': {
    post: op({
      tag: 'Comments',
      summary: 'Review a product (rating required), or reply to a comment (parentId, no rating)',
      body: obj(
        {
          productId: str(),
          text: str({ maxLength: 5000 }),
          rating: int({ minimum: 1, maximum: 5 }),
          parentId: str(),
        },
        ['productId', 'text'],
      ),
      ok: ['201', 'The comment (Location header)', ref('Comment')],
      errors: {
        '404': 'Unknown product or parent',
        '409': 'One review per user per product',
        '422': 'PARENT_PRODUCT_MISMATCH, PARENT_DELETED, THREAD_TOO_DEEP',
      },
    }),
  },
  '/api/comments/product/{productId}': {
    get: op({
      tag: 'Comments',
      summary: "A product's reviews with nested replies (token optional)",
      isPublic: true,
      params: [
        pathParam('productId'),
        queryParam('sort', str({ enum: ['newest', 'helpful'], default: 'newest' })),
        ...pagination,
      ],
      ok: ['200', 'A page of reviews', itemsPage(ref('Comment'))],
    }),
  },
  '/api/comments/moderation/queue': {
    get: op({
      tag: 'Comments',
      summary: 'Hidden comments awaiting review, each with its recent flags (admin)',
      params: pagination,
      ok: ['200', 'A page of comments', itemsPage(ref('Comment'))],
    }),
  },
  '/api/comments/{id}': {
    get: op({
      tag: 'Comments',
      summary: 'One comment, without replies (token optional)',
      isPublic: true,
      params: [pathParam('id')],
      ok: ['200', 'The comment', ref('Comment')],
      errors: { '404': 'Unknown comment (hidden ones too, for non-admins)' },
    }),
    put: op({
      tag: 'Comments',
      summary: 'Edit own comment',
      params: [pathParam('id')],
      body: {
        ...obj({ text: str({ maxLength: 5000 }), rating: int({ minimum: 1, maximum: 5 }) }),
        minProperties: 1,
      },
      ok: ['200', 'The comment', ref('Comment')],
      errors: { '404': 'Unknown comment', '422': 'COMMENT_DELETED' },
    }),
    delete: op({
      tag: 'Comments',
      summary: 'Delete a comment (author or admin; a tombstone when it has replies)',
      params: [pathParam('id')],
      ok: [
        '200',
        'What happened',
        obj({ id: str(), outcome: str({ enum: ['removed', 'tombstoned'] }) }, ['id', 'outcome']),
      ],
      errors: { '404': 'Unknown comment' },
    }),
  },
  '/api/comments/{id}/flag': {
    post: op({
      tag: 'Comments',
      summary: 'Flag a comment (enough flags hide it)',
      params: [pathParam('id')],
      body: obj({ reason: str({ maxLength: 500 }) }, ['reason']),
      ok: [
        '201',
        'Flagged',
        obj({ commentId: str(), flagged: { type: 'boolean' }, hidden: { type: 'boolean' } }),
      ],
      errors: {
        '404': 'Unknown comment',
        '409': 'Already flagged by this user',
        '422': 'OWN_COMMENT_FLAG',
      },
    }),
  },
  '/api/comments/{id}/moderate': {
    put: op({
      tag: 'Comments',
      summary: 'Moderate a comment (admin)',
      params: [pathParam('id')],
      body: obj({ action: str({ enum: ['approve', 'hide', 'remove'] }) }, ['action']),
      ok: [
        '200',
        'The outcome',
        obj({
          id: str(),
          action: str({ enum: ['approve', 'hide', 'remove'] }),
          outcome: str({ enum: ['visible', 'hidden', 'removed', 'tombstoned'] }),
          comment: { allOf: [ref('Comment')], nullable: true },
        }),
      ],
      errors: { '404': 'Unknown comment' },
    }),
  },
  '/api/comments/{id}/helpful': {
    post: op({
      tag: 'Comments',
      summary: 'Mark a comment helpful (once per user)',
      params: [pathParam('id')],
      ok: ['201', 'The new count', obj({ commentId: str(), helpfulCount: int() })],
      errors: { '404': 'Unknown comment', '409': 'Already voted', '422': 'OWN_COMMENT_VOTE' },
    }),
    delete: op({
      tag: 'Comments',
      summary: 'Withdraw the helpful vote',
      params: [pathParam('id')],
      ok: ['200', 'The new count', obj({ commentId: str(), helpfulCount: int() })],
      errors: { '404': 'Unknown comment or no vote' },
    }),
  },
  '/api/orders': {
    post: op({
      tag: 'Orders',
      summary: 'Place an order (starts the saga; without payment it waits in AWAITING_PAYMENT)',
      params: [idempotencyKey],
      body: obj(
        {
          items: {
            type: 'array',
            minItems: 1,
            maxItems: 50,
            items: obj(
              { productId: str({ maxLength: 128 }), quantity: int({ minimum: 1, maximum: 1000 }) },
              ['productId', 'quantity'],
            ),
          },
          payment: paymentDetails,
          shippingAddress: {
            ...shippingAddress,
            description: "Optional: left out, the customer's profile address and name are used",
          },
        },
        ['items'],
      ),
      ok: ['201', 'The order, PENDING (a replay: header Idempotent-Replayed)', ref('Order')],
      errors: {
        '422':
          'UNKNOWN_PRODUCT, PRODUCT_UNAVAILABLE, MIXED_CURRENCY, IDEMPOTENCY_KEY_REUSED, SHIPPING_ADDRESS_REQUIRED (no address in the body nor the profile)',
      },
    }),
    get: op({
      tag: 'Orders',
      summary:
        "Own orders, newest first (admin: all, or ?userId=); ?seller=me: a seller's orders with only their lines",
      params: [
        queryParam('status', str()),
        queryParam('userId', str(), 'admin only'),
        queryParam(
          'seller',
          str({ maxLength: 128 }),
          "'me' (sellers: orders holding their lines, only those lines, sellerTotal) or a seller id (admin)",
        ),
        queryParam('page', int({ minimum: 1, default: 1 })),
        queryParam('limit', int({ minimum: 1, maximum: 100, default: 20 })),
      ],
      ok: ['200', 'A page of orders', ref('OrderPage')],
    }),
  },
  '/api/orders/{id}': {
    get: op({
      tag: 'Orders',
      summary: 'One order (owner or admin)',
      params: [pathParam('id', 'order id (uuid)')],
      ok: ['200', 'The order', ref('Order')],
      errors: { '404': 'Unknown order' },
    }),
  },
  '/api/orders/{id}/history': {
    get: op({
      tag: 'Orders',
      summary: 'Every status transition with its cause',
      params: [pathParam('id', 'order id (uuid)')],
      ok: ['200', 'Transitions', ref('OrderHistory')],
      errors: { '404': 'Unknown order' },
    }),
  },
  '/api/orders/{id}/cancel': {
    put: op({
      tag: 'Orders',
      summary: 'Cancel before shipping (owner or admin)',
      params: [pathParam('id', 'order id (uuid)')],
      body: obj({ reason: str({ maxLength: 500 }) }),
      ok: ['200', 'The order', ref('Order')],
      errors: { '404': 'Unknown order', '409': 'Not cancellable in its state' },
    }),
  },
  '/api/orders/{id}/status': {
    put: op({
      tag: 'Orders',
      summary: 'Mark SHIPPED or DELIVERED (seller or admin)',
      params: [pathParam('id', 'order id (uuid)')],
      body: obj({ status: str({ enum: ['SHIPPED', 'DELIVERED'] }) }, ['status']),
      ok: ['200', 'The order', ref('Order')],
      errors: { '404': 'Unknown order', '409': 'Illegal transition' },
    }),
  },
  '/api/payments/initiate': {
    post: op({
      tag: 'Payments',
      summary: 'Pay an order waiting in AWAITING_PAYMENT (owner)',
      params: [idempotencyKey],
      body: obj({ orderId: str({ maxLength: 128 }), payment: paymentDetails }, [
        'orderId',
        'payment',
      ]),
      ok: ['201', 'The payment', ref('Payment')],
      errors: {
        '402': 'PAYMENT_DECLINED (retryable; the order keeps waiting)',
        '404': 'Unknown order, or not the owner',
        '409': 'Not reserved yet, already paid, in progress, or order closed',
        '422': 'IDEMPOTENCY_KEY_REUSED',
      },
    }),
  },
  '/api/payments/{id}': {
    get: op({
      tag: 'Payments',
      summary: 'One payment (owner or admin)',
      params: [pathParam('id', 'payment id (uuid)')],
      ok: ['200', 'The payment', ref('Payment')],
      errors: { '404': 'Unknown payment' },
    }),
  },
  '/api/payments/order/{orderId}': {
    get: op({
      tag: 'Payments',
      summary: "An order's payment (owner or admin)",
      params: [pathParam('orderId')],
      ok: ['200', 'The payment', ref('Payment')],
      errors: { '404': 'No payment for this order' },
    }),
  },
  '/api/payments/{id}/refund': {
    post: op({
      tag: 'Payments',
      summary: 'Refund, fully (no amount: what is left) or partly (admin)',
      params: [pathParam('id', 'payment id (uuid)'), idempotencyKey],
      body: obj({
        amount: int({ minimum: 1, description: 'minor units' }),
        reason: str({ maxLength: 500 }),
      }),
      ok: [
        '201',
        'The refund and the payment',
        obj({ refund: ref('Refund'), payment: ref('Payment') }),
      ],
      errors: {
        '404': 'Unknown payment',
        '409': 'Not charged, or fully refunded',
        '422': 'REFUND_EXCEEDS_AMOUNT, REFUND_REFUSED, IDEMPOTENCY_KEY_REUSED',
      },
    }),
  },
  '/api/blockchain/order/{orderId}': {
    get: op({
      tag: 'Blockchain',
      summary: "An order's anchored records with proofs (owner or admin; order service)",
      params: [pathParam('orderId', 'order id (uuid)')],
      ok: [
        '200',
        'Records',
        obj({ orderId: str(), records: { type: 'array', items: ref('AnchorRecord') } }, [
          'records',
        ]),
      ],
      errors: {
        '404': 'Unknown order',
        '503': 'Anchoring not configured (ANCHORING_NOT_CONFIGURED)',
      },
    }),
  },
  '/api/blockchain/payment/{paymentId}': {
    get: op({
      tag: 'Blockchain',
      summary: "A payment's anchored records with proofs (owner or admin; payment service)",
      params: [pathParam('paymentId', 'payment id (uuid)')],
      ok: [
        '200',
        'Records',
        obj({ paymentId: str(), records: { type: 'array', items: ref('AnchorRecord') } }, [
          'records',
        ]),
      ],
      errors: {
        '404': 'Unknown payment',
        '503': 'Anchoring not configured (ANCHORING_NOT_CONFIGURED)',
      },
    }),
  },
  '/api/blockchain/verify/{transactionHash}': {
    get: op({
      tag: 'Blockchain',
      summary:
        'What a transaction anchored (payment or order batches), and whether each record still matches; ' +
        'non-admins see only their own records',
      params: [pathParam('transactionHash', '0x followed by 64 hex digits')],
      ok: ['200', 'The batch and its records', ref('AnchorTransaction')],
      errors: {
        '404': 'No anchor (of yours) in this transaction',
        '503': 'Anchoring not configured, or the order service unreachable',
      },
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
