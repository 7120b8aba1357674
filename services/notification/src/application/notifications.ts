import type { Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { listedUserId, page, type Page, type PageQuery } from '@ecom/common/http';
import {
  NOTIFICATION_KINDS,
  type AttemptOutcome,
  type NotificationKind,
  type NotificationStatus,
} from '../domain/kinds';
import { directoryStore } from '../store/directory-store';
import {
  notificationStore,
  type AttemptRow,
  type NotificationRow,
} from '../store/notification-store';

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  status: NotificationStatus;
  orderId: string | null;
  userId: string | null;
  recipient: string | null;
  subject: string | null;
  attempts: { attempt: number; outcome: AttemptOutcome; detail: string | null; at: string }[];
  nextAttemptAt: string | null;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

export interface PreferencesView {
  /** Every kind, true when the customer receives it. */
  kinds: Record<NotificationKind, boolean>;
  updatedAt: string | null;
}

export type NotificationListQuery = PageQuery & {
  userId?: string;
  status?: NotificationStatus;
  kind?: NotificationKind;
};

function view(row: NotificationRow, attempts: AttemptRow[]): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    orderId: row.order_id,
    userId: row.user_id,
    recipient: row.recipient,
    subject: row.subject,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      outcome: a.outcome,
      detail: a.detail,
      at: a.at.toISOString(),
    })),
    nextAttemptAt: row.status === 'PENDING' ? row.next_attempt_at.toISOString() : null,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at?.toISOString() ?? null,
  };
}

/** The customer-facing use cases: the record of their notifications, their preferences. */
export class Notifications {
  constructor(private readonly deps: { pool: Pool }) {}

  /** Own notifications newest first (an admin: everyone's, or one user's with ?userId=). */
  async list(user: AuthUser, query: NotificationListQuery): Promise<Page<NotificationView>> {
    const userId = listedUserId(user, query.userId, 'notifications');
    const { rows, total } = await notificationStore.page(
      this.deps.pool,
      { userId, status: query.status, kind: query.kind },
      query,
    );
    const attempts = await notificationStore.attemptsOf(
      this.deps.pool,
      rows.map((r) => r.id),
    );
    return page(
      rows.map((r) =>
        view(
          r,
          // Attempts are read after their notifications: one recorded in between (with the
          // notification's new state) waits for the next listing, so the two always agree.
          attempts.filter((a) => a.notification_id === r.id && a.attempt <= r.attempts),
        ),
      ),
      query,
      total,
    );
  }

  async preferences(user: AuthUser): Promise<PreferencesView> {
    const { kinds, updatedAt } = await directoryStore.optedOut(this.deps.pool, user.id);
    return preferencesView(kinds, updatedAt);
  }

  /** Sets the kinds named in `changes` (true: receive, false: opt out); others stay as they were. */
  async setPreferences(
    user: AuthUser,
    changes: Partial<Record<NotificationKind, boolean>>,
  ): Promise<PreferencesView> {
    const entries = Object.entries(changes) as [NotificationKind, boolean][];
    // Applied in the database on top of what is stored (not read here and written back), so
    // concurrent changes to other kinds all stay.
    const { kinds, updatedAt } = await directoryStore.changeOptedOut(this.deps.pool, user.id, {
      optOut: entries.filter(([, receive]) => !receive).map(([kind]) => kind),
      optIn: entries.filter(([, receive]) => receive).map(([kind]) => kind),
    });
    return preferencesView(kinds, updatedAt);
  }
}

function preferencesView(optedOut: NotificationKind[], updatedAt: Date | null): PreferencesView {
  const kinds = Object.fromEntries(
    NOTIFICATION_KINDS.map((k) => [k, !optedOut.includes(k)]),
  ) as Record<NotificationKind, boolean>;
  return { kinds, updatedAt: updatedAt?.toISOString() ?? null };
}
