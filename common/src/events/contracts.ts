import Joi from 'joi';
import { compileFastAccept, type FastAccept } from '../util/joi-fast-accept';

/**
 * The payload (`data`) of every event on the bus, once: a TypeScript type and the joi schema
 * checked against it (`Joi.object<T, true>` makes the schema's keys match the type's).
 * Publishers are held to the schema as written; consumers read tolerantly (unknown keys pass,
 * so a publisher may add a field before every consumer knows it). docs/events.md describes
 * who publishes and who consumes each one.
 */

const ROLES = ['customer', 'seller', 'admin'] as const;

export interface Money {
  /** Integer minor units (cents). */
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
}

export interface Line {
  productId: string;
  quantity: number;
}

/** Who started a payment attempt (payment.initiated's `source`). */
export const PAYMENT_ATTEMPT_SOURCES = ['order', 'initiate'] as const;
export type PaymentAttemptSource = (typeof PAYMENT_ATTEMPT_SOURCES)[number];

export interface UserData {
  userId: string;
  email: string;
  name: string;
  role: (typeof ROLES)[number];
}

/**
 * Why product refuses a reservation (inventory.rejected's reason). A consumer that acts on one
 * (order forgets a quote a refusal shows stale) names it with this type.
 */
export type InventoryRefusal =
  'UNKNOWN_PRODUCT' | 'INSUFFICIENT_STOCK' | 'PRODUCT_UNAVAILABLE' | 'PRICE_CHANGED';

export interface EventPayloads {
  'user.created': UserData;
  'user.updated': UserData;
  'user.deleted': { userId: string };

  'product.created': {
    productId: string;
    sellerId: string;
    name: string;
    price: Money;
    category: string | null;
    inventory: number;
  };
  'product.updated': { productId: string; changes: string[]; price: Money };
  'product.deleted': { productId: string };
  'product.inventory.low': { productId: string; available: number; threshold: number };

  'inventory.reserved': { orderId: string; items: Line[] };
  'inventory.rejected': {
    orderId: string;
    productId: string | null;
    /** An InventoryRefusal; typed as text, so a reason a newer product adds is still read. */
    reason: string;
    requested?: number;
    available?: number;
  };
  /** A reservation held past product's bound: order answers with the order's outcome again. */
  'inventory.reservation.overdue': { orderId: string; since: string };

  'order.created': {
    orderId: string;
    userId: string;
    items: Array<Line & { unitPrice: number; name: string }>;
    total: Money;
    payment: { method: string; token: string } | null;
  };
  'order.confirmed': { orderId: string; userId: string; items: Line[]; total: Money };
  /**
   * userId: the customer, named by every publisher since notification stopped reading
   * order.created to learn it; absent in older events and for an order order never knew.
   */
  'order.failed': { orderId: string; reason: string; items: Line[]; userId?: string };
  'order.cancelled': {
    orderId: string;
    userId: string;
    reason: string;
    previousStatus: string | null;
    /**
     * The lines whose stock goes back: the order's lines not shipped. That is every line, but
     * for a PARTIALLY_SHIPPED order a full refund ended (previousStatus 'PARTIALLY_SHIPPED').
     */
    items: Line[];
  };
  /** Lines of a confirmed order shipped (by their seller, or an admin): one per shipment. */
  'order.shipped': { orderId: string; userId: string; items: Line[]; fullyShipped: boolean };
  'order.completed': { orderId: string; userId?: string };
  'order.payment.overdue': { orderId: string; userId: string; since: string };

  'payment.initiated': {
    paymentId: string;
    orderId: string;
    amount: Money;
    attempt: number;
    /**
     * Who started the attempt: 'order', the payment details that came with the order, charged
     * once its stock was reserved; 'initiate', the customer's POST /api/payments/initiate.
     * Absent in events published before it was added.
     */
    source?: PaymentAttemptSource;
  };
  'payment.completed': { paymentId: string; orderId: string; amount: Money };
  'payment.failed': {
    paymentId: string;
    orderId: string;
    reason: string;
    code: string;
    retryable: boolean;
    attempt?: number;
  };
  'payment.refunded': {
    paymentId: string;
    orderId: string;
    refundId: string;
    amount: Money;
    fullyRefunded: boolean;
    /** The payer; absent in older events (as order.failed's). */
    userId?: string;
  };

  'comment.created': {
    commentId: string;
    productId: string;
    userId: string;
    rating: number | null;
    parentId: string | null;
  };
  'comment.updated': {
    commentId: string;
    productId: string;
    rating: number | null;
    previousRating: number | null;
  };
  'comment.deleted': { commentId: string; productId: string; rating: number | null };
  'comment.flagged': { commentId: string; productId: string; flags: number; hidden: boolean };
}

export type EventType = keyof EventPayloads;
export type EventData<T extends EventType> = EventPayloads[T];

const id = Joi.string().min(1).max(128);
const count = Joi.number().integer().min(0).max(Number.MAX_SAFE_INTEGER);
const money = Joi.object<Money, true>({
  amount: count.required(),
  currency: Joi.string()
    .pattern(/^[A-Z]{3}$/)
    .required(),
});
const line = {
  productId: id.required(),
  quantity: Joi.number().integer().min(1).max(1_000_000).required(),
};
const lines = Joi.array().items(Joi.object<Line, true>(line)).max(500);
const rating = Joi.number().integer().min(1).max(5).allow(null);
const user = Joi.object<UserData, true>({
  userId: id.required(),
  email: Joi.string().max(254).required(),
  name: Joi.string().min(1).max(200).required(),
  role: Joi.string()
    .valid(...ROLES)
    .required(),
});
const text = (max: number) => Joi.string().allow('').max(max);

export const EVENT_SCHEMAS: { [T in EventType]: Joi.ObjectSchema<EventPayloads[T]> } = {
  'user.created': user,
  'user.updated': user,
  'user.deleted': Joi.object<EventPayloads['user.deleted'], true>({ userId: id.required() }),

  'product.created': Joi.object<EventPayloads['product.created'], true>({
    productId: id.required(),
    sellerId: id.required(),
    name: Joi.string().max(500).required(),
    price: money.required(),
    category: Joi.string().max(200).allow(null).required(),
    inventory: count.required(),
  }),
  'product.updated': Joi.object<EventPayloads['product.updated'], true>({
    productId: id.required(),
    changes: Joi.array().items(Joi.string().max(100)).max(100).required(),
    price: money.required(),
  }),
  'product.deleted': Joi.object<EventPayloads['product.deleted'], true>({
    productId: id.required(),
  }),
  'product.inventory.low': Joi.object<EventPayloads['product.inventory.low'], true>({
    productId: id.required(),
    available: count.required(),
    threshold: count.required(),
  }),

  'inventory.reserved': Joi.object<EventPayloads['inventory.reserved'], true>({
    orderId: id.required(),
    items: lines.required(),
  }),
  'inventory.rejected': Joi.object<EventPayloads['inventory.rejected'], true>({
    orderId: id.required(),
    productId: id.allow(null).required(),
    reason: text(200).required(),
    requested: count,
    available: count,
  }),
  'inventory.reservation.overdue': Joi.object<EventPayloads['inventory.reservation.overdue'], true>(
    {
      orderId: id.required(),
      since: Joi.string().isoDate().required(),
    },
  ),

  'order.created': Joi.object<EventPayloads['order.created'], true>({
    orderId: id.required(),
    userId: id.required(),
    items: Joi.array()
      .items(
        Joi.object({
          ...line,
          unitPrice: count.required(),
          name: Joi.string().max(500).required(),
        }),
      )
      .min(1)
      .max(500)
      .required(),
    total: money.required(),
    payment: Joi.object({
      method: Joi.string().max(50).required(),
      token: Joi.string().max(200).required(),
    })
      .allow(null)
      .required(),
  }),
  'order.confirmed': Joi.object<EventPayloads['order.confirmed'], true>({
    orderId: id.required(),
    userId: id.required(),
    items: lines.required(),
    total: money.required(),
  }),
  'order.failed': Joi.object<EventPayloads['order.failed'], true>({
    orderId: id.required(),
    reason: text(1000).required(),
    items: lines.required(),
    userId: id,
  }),
  'order.cancelled': Joi.object<EventPayloads['order.cancelled'], true>({
    orderId: id.required(),
    userId: id.required(),
    reason: text(1000).required(),
    previousStatus: Joi.string().max(50).allow(null).required(),
    items: lines.required(),
  }),
  'order.shipped': Joi.object<EventPayloads['order.shipped'], true>({
    orderId: id.required(),
    userId: id.required(),
    items: lines.min(1).required(),
    fullyShipped: Joi.boolean().required(),
  }),
  'order.completed': Joi.object<EventPayloads['order.completed'], true>({
    orderId: id.required(),
    userId: id,
  }),
  'order.payment.overdue': Joi.object<EventPayloads['order.payment.overdue'], true>({
    orderId: id.required(),
    userId: id.required(),
    since: Joi.string().isoDate().required(),
  }),

  'payment.initiated': Joi.object<EventPayloads['payment.initiated'], true>({
    paymentId: id.required(),
    orderId: id.required(),
    amount: money.required(),
    attempt: Joi.number().integer().min(1).required(),
    source: Joi.string().valid(...PAYMENT_ATTEMPT_SOURCES),
  }),
  'payment.completed': Joi.object<EventPayloads['payment.completed'], true>({
    paymentId: id.required(),
    orderId: id.required(),
    amount: money.required(),
  }),
  'payment.failed': Joi.object<EventPayloads['payment.failed'], true>({
    paymentId: id.required(),
    orderId: id.required(),
    reason: text(1000).required(),
    code: Joi.string().max(100).required(),
    retryable: Joi.boolean().required(),
    attempt: Joi.number().integer().min(1),
  }),
  'payment.refunded': Joi.object<EventPayloads['payment.refunded'], true>({
    paymentId: id.required(),
    orderId: id.required(),
    refundId: id.required(),
    amount: money.required(),
    fullyRefunded: Joi.boolean().required(),
    userId: id,
  }),

  'comment.created': Joi.object<EventPayloads['comment.created'], true>({
    commentId: id.required(),
    productId: id.required(),
    userId: id.required(),
    rating: rating.required(),
    parentId: id.allow(null).required(),
  }),
  'comment.updated': Joi.object<EventPayloads['comment.updated'], true>({
    commentId: id.required(),
    productId: id.required(),
    rating: rating.required(),
    previousRating: rating.required(),
  }),
  'comment.deleted': Joi.object<EventPayloads['comment.deleted'], true>({
    commentId: id.required(),
    productId: id.required(),
    rating: rating.required(),
  }),
  'comment.flagged': Joi.object<EventPayloads['comment.flagged'], true>({
    commentId: id.required(),
    productId: id.required(),
    flags: count.required(),
    hidden: Joi.boolean().required(),
  }),
};

export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

/** Each contract's fast path, compiled from its schema (ADR 0050); absent where joi must decide. */
const FAST_ACCEPT = new Map<EventType, FastAccept>(
  EVENT_TYPES.flatMap((t) => {
    const accept = compileFastAccept(EVENT_SCHEMAS[t]);
    return accept ? [[t, accept] as const] : [];
  }),
);

export type PayloadCheck<T> = { ok: true; data: T } | { ok: false; reason: string };

/**
 * Checks a payload against its contract. `strict` (publishers): unknown keys are refused;
 * otherwise (consumers) they pass. The reason names the field, never echoes the value.
 */
export function checkPayload<T extends EventType>(
  type: T,
  data: unknown,
  options: { strict?: boolean } = {},
): PayloadCheck<EventPayloads[T]> {
  // The payloads this platform writes are plain: recognised without joi (ADR 0050).
  if (FAST_ACCEPT.get(type)?.(data, !options.strict))
    return { ok: true, data: data as EventPayloads[T] };
  return checkPayloadBySchema(type, data, options);
}

/** checkPayload with joi alone: what decides whenever the fast path does not accept. */
export function checkPayloadBySchema<T extends EventType>(
  type: T,
  data: unknown,
  { strict = false }: { strict?: boolean } = {},
): PayloadCheck<EventPayloads[T]> {
  const schema = EVENT_SCHEMAS[type] as Joi.ObjectSchema<EventPayloads[T]>;
  const { value, error } = schema.validate(data, {
    allowUnknown: !strict,
    abortEarly: true,
    convert: false,
    errors: { wrap: { label: '"' } },
  });
  if (error) {
    const detail = error.details[0];
    return {
      ok: false,
      reason: `invalid ${type} payload: ${detail?.path.join('.') || 'data'}: ${detail?.type ?? 'invalid'}`,
    };
  }
  return { ok: true, data: value };
}
