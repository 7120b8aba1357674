import type { Router } from 'express';
import { requireUser, type JwtVerifyOptions } from '@ecom/common/auth';
import { bindRoutes, reply } from '@ecom/common/http';
import type { NotificationKind } from '../domain/kinds';
import type { NotificationListQuery, Notifications } from '../application/notifications';
import { notificationApi } from './api';

/** The handlers of notificationApi: input is already validated and the caller authenticated. */
export function notificationRoutes(deps: {
  notifications: Notifications;
  jwt: JwtVerifyOptions;
}): Router {
  const { notifications } = deps;
  return bindRoutes(
    notificationApi,
    {
      async listNotifications(req) {
        return reply.list(
          await notifications.list(requireUser(req), req.query as unknown as NotificationListQuery),
        );
      },
      getNotificationPreferences: (req) => notifications.preferences(requireUser(req)),
      setNotificationPreferences: (req) =>
        notifications.setPreferences(
          requireUser(req),
          (req.body as { kinds: Partial<Record<NotificationKind, boolean>> }).kinds,
        ),
    },
    { jwt: deps.jwt },
  );
}
