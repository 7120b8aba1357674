import Joi from 'joi';
import { idTokenSchema } from '@ecom/common/ids';
import { defineApi, pageQueryKeys } from '@ecom/common/http';
import { ATTEMPT_OUTCOMES, NOTIFICATION_KINDS, NOTIFICATION_STATUSES } from '../domain/kinds';

/**
 * The notification service's HTTP API: routes, access, input schemas and answers. The routes
 * bind their handlers to it, the gateway routes by it, /docs and Postman are generated from it.
 */

const nullable = (schema: Joi.Schema) => schema.allow(null);
const timestamp = Joi.string().isoDate();
const kind = Joi.string().valid(...NOTIFICATION_KINDS);

export const notificationSchema = Joi.object({
  id: Joi.string().guid(),
  kind,
  status: Joi.string().valid(...NOTIFICATION_STATUSES),
  orderId: nullable(Joi.string()),
  userId: nullable(Joi.string()),
  recipient: nullable(Joi.string()).description('The address it was (or is to be) sent to'),
  subject: nullable(Joi.string()),
  attempts: Joi.array().items(
    Joi.object({
      attempt: Joi.number().integer().min(1),
      outcome: Joi.string().valid(...ATTEMPT_OUTCOMES),
      detail: nullable(Joi.string()).description(
        'Why it failed or was skipped: a code (OPTED_OUT, RECIPIENT_RATE_LIMITED, RECIPIENT_REFUSED...) and, for a failed send, `: ` and a generic message',
      ),
      at: timestamp,
    }),
  ),
  nextAttemptAt: nullable(timestamp).description('When PENDING: the next attempt'),
  lastError: nullable(Joi.string()).description(
    "The last attempt's reason, as in attempts[].detail (null once SENT); never the mail server's own reply",
  ),
  createdAt: timestamp,
  sentAt: nullable(timestamp),
}).label('Notification');

const kindFlags = Object.fromEntries(NOTIFICATION_KINDS.map((k) => [k, Joi.boolean()]));

export const preferencesSchema = Joi.object({
  kinds: Joi.object(kindFlags).description('true: receive this kind, false: opted out'),
  updatedAt: nullable(timestamp),
}).label('NotificationPreferences');

export const preferencesBody = Joi.object({
  kinds: Joi.object(kindFlags)
    .min(1)
    .required()
    .description('The kinds to change (false: opt out, true: opt in); others are left as they are'),
});

export const notificationApi = defineApi({
  service: 'notification',
  tag: {
    name: 'Notifications',
    description: 'E-mails about orders and refunds, and the preferences (notification service)',
  },
  prefixes: ['/api/notifications'],
  operations: {
    listNotifications: {
      method: 'get',
      path: '/api/notifications',
      summary: 'Own notifications and each attempt, newest first (admin: all, or ?userId=)',
      access: 'user',
      query: Joi.object({
        ...pageQueryKeys,
        userId: idTokenSchema(128).description('admin only'),
        status: Joi.string().valid(...NOTIFICATION_STATUSES),
        kind,
      }),
      response: {
        status: 200,
        description: 'A page of notifications',
        schema: notificationSchema,
        list: true,
      },
      errors: { 403: "Another user's notifications (admin only)" },
    },
    getNotificationPreferences: {
      method: 'get',
      path: '/api/notifications/preferences',
      summary: 'Which kinds of notification you receive',
      access: 'user',
      response: { status: 200, description: 'The preferences', schema: preferencesSchema },
    },
    setNotificationPreferences: {
      method: 'put',
      path: '/api/notifications/preferences',
      summary: 'Opt out of (false) or back into (true) kinds of notification',
      description:
        'A notification of a kind you opted out of is recorded as SKIPPED (OPTED_OUT) and not sent.',
      access: 'user',
      body: preferencesBody,
      response: { status: 200, description: 'The preferences now', schema: preferencesSchema },
    },
  },
});
