import type { Pool } from 'pg';
import type { Logger } from '@ecom/common/logging';
import { runExclusively } from '@ecom/common/postgres';
import type { AttemptOutcome, NotificationKind, NotificationStatus } from '../domain/kinds';
import {
  SEND_FAILURES,
  decide,
  isBudgetExempt,
  retryDelayMs,
  sendFailureText,
  type Recipient,
  type RecipientBudget,
  type RetryPolicy,
} from '../domain/rules';
import { renderMail } from '../domain/templates';
import { directoryStore } from '../store/directory-store';
import { notificationStore, type NotificationRow } from '../store/notification-store';
import { MailNotSent, type Mailer } from './mailer';

export interface SenderOptions extends RetryPolicy {
  /** How long a notification waits for its recipient to become known before it is FAILED. */
  recipientWaitMs: number;
  /** How often a notification waiting for its recipient looks again (a user event wakes it). */
  recipientRecheckMs: number;
  /** Notifications taken per query. */
  batchSize: number;
  /** The domain of the Message-IDs (stable per notification). */
  messageIdDomain: string;
  /** Mails per address within a window (docs/adr/0059). */
  budget: RecipientBudget;
}

/** The budget slot a mail took: given back when its send fails. */
interface TakenSlot {
  addressDigest: string;
  slot: string;
}

/** What one pass did. */
export interface SendPass {
  sent: number;
  failed: number;
  skipped: number;
  waiting: number;
}

/**
 * Delivers due notifications through the mailer: one pass at a time across replicas (a
 * session advisory lock), so a message is never sent by two replicas at once. Each attempt and
 * its outcome is recorded with the notification's next state in one transaction; a failed send
 * is tried again after an exponential backoff kept in the store, so it survives a restart.
 */
export class Sender {
  /** When budget rows that left their window were last deleted (once per window). */
  private prunedAt = Date.now();

  constructor(
    private readonly deps: {
      pool: Pool;
      mailer: Mailer;
      logger: Logger;
      options: SenderOptions;
      /** Called for each notification not sent because its address's budget was spent. */
      rateLimited?: (kind: NotificationKind) => void;
    },
  ) {}

  /** One pass (nothing when another replica's pass is running). */
  async run(): Promise<SendPass | null> {
    const { batchSize, budget } = this.deps.options;
    if (Date.now() - this.prunedAt >= budget.windowMs) {
      this.prunedAt = Date.now();
      await directoryStore.pruneBudgets(this.deps.pool, budget.windowMs);
    }
    // The first look at what is due travels with the lock (one round trip for an idle pass).
    const pass = await runExclusively(
      this.deps.pool,
      'notification-sender',
      (first: NotificationRow[]) => this.pass(first),
      notificationStore.dueQuery(batchSize),
    );
    return pass.ran ? pass.result : null;
  }

  private async pass(first: NotificationRow[]): Promise<SendPass> {
    const { batchSize } = this.deps.options;
    const result: SendPass = { sent: 0, failed: 0, skipped: 0, waiting: 0 };
    const seen = new Set<string>();
    let batch = first;
    for (;;) {
      for (const n of batch) {
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        const outcome = await this.deliver(n);
        result[outcome] += 1;
      }
      // A short batch was all that was due. What is added meanwhile wakes the next pass
      // (in this replica, or another's own pass; their periodic look bounds the wait).
      if (batch.length < batchSize) break;
      batch = await notificationStore.due(this.deps.pool, batchSize);
      if (batch.every((n) => seen.has(n.id))) break;
    }
    if (result.sent + result.failed + result.skipped > 0) {
      this.deps.logger.info('notification pass', { ...result });
    }
    return result;
  }

  private async recipientOf(
    n: NotificationRow,
  ): Promise<{ userId: string | null; recipient: Recipient; taken: TakenSlot | null }> {
    const { pool, options } = this.deps;
    let userId = n.user_id;
    if (!userId && n.order_id) {
      // Its event named no user (published before every order event did), and no event of the
      // order naming one had committed when it was added: the owner is read now, and kept.
      userId = await directoryStore.orderOwner(pool, n.order_id);
      if (userId) await notificationStore.assignOwner(pool, n.order_id, userId);
    }
    if (!userId) return { userId, recipient: { state: 'unknown' }, taken: null };
    // The recipient and, when a mail would go to them, a slot of their address's budget: one
    // round trip, as the recipient's read alone was.
    const row = await directoryStore.recipientToSend(pool, userId, {
      kind: n.kind,
      exempt: isBudgetExempt(n.kind),
      max: options.budget.max,
      receiptsMax: options.budget.receiptsMax,
      windowMs: options.budget.windowMs,
    });
    if (!row) return { userId, recipient: { state: 'unknown' }, taken: null };
    if (row.deleted || !row.email) {
      return { userId, recipient: { state: 'deleted' }, taken: null };
    }
    return {
      userId,
      recipient: {
        state: 'known',
        email: row.email,
        optedOut: row.opted_out,
        withinBudget: row.slot !== null,
      },
      taken:
        row.slot !== null && row.address_digest !== null
          ? { addressDigest: row.address_digest, slot: row.slot }
          : null,
    };
  }

  private async deliver(n: NotificationRow): Promise<keyof SendPass> {
    const { pool, mailer, logger, options } = this.deps;
    const { recipient, taken } = await this.recipientOf(n);
    const decision = decide(
      n.kind,
      recipient,
      Date.now() - n.created_at.getTime(),
      options.recipientWaitMs,
    );
    switch (decision.action) {
      case 'wait':
        await notificationStore.postpone(
          pool,
          n.id,
          new Date(Date.now() + options.recipientRecheckMs),
          'RECIPIENT_UNKNOWN: waiting for the customer to be known',
        );
        return 'waiting';
      case 'give-up':
        await notificationStore.fail(pool, n.id, decision.reason);
        logger.warn('notification given up: recipient never known', { notificationId: n.id });
        return 'failed';
      case 'skip':
        await this.record(n, 'SKIPPED', decision.reason, 'SKIPPED');
        if (decision.reason === 'RECIPIENT_RATE_LIMITED') {
          this.deps.rateLimited?.(n.kind);
          logger.warn('notification not sent: the address had its mails for the window', {
            notificationId: n.id,
            kind: n.kind,
          });
        }
        return 'skipped';
      case 'send': {
        const mail = renderMail(n.kind, n.facts);
        const attempt = n.attempts + 1;
        try {
          await mailer.send({
            // The address alone: a display name is the account's words (anyone's, for an
            // address nobody proved to own), and a mail client shows it.
            to: { name: '', address: decision.email },
            ...mail,
            messageId: `<${n.id}@${options.messageIdDomain}>`,
          });
        } catch (err) {
          const failure = err instanceof MailNotSent ? err.failure : 'SEND_FAILED';
          // A permanent refusal would be refused again: no further attempt.
          const last = SEND_FAILURES[failure].permanent || attempt >= options.maxAttempts;
          // The customer sees the code and a generic message; the server's words (which can
          // name a relay's internal hosts) are only logged.
          await this.record(n, 'FAILED', sendFailureText(failure), last ? 'FAILED' : 'PENDING', {
            next: last ? undefined : new Date(Date.now() + retryDelayMs(attempt, options)),
            recipient: decision.email,
            subject: mail.subject,
            release: taken ?? undefined,
          });
          logger.warn('notification attempt failed', {
            notificationId: n.id,
            attempt,
            failure,
            gaveUp: last,
            replyCode: err instanceof MailNotSent ? err.replyCode : undefined,
            error: (err as Error).message,
          });
          return 'failed';
        }
        // Sent: if recording failed now, the next pass would send again (at-least-once); the
        // stable Message-ID lets a mailbox tell the copy.
        await this.record(n, 'SENT', null, 'SENT', {
          recipient: decision.email,
          subject: mail.subject,
        });
        return 'sent';
      }
    }
  }

  private async record(
    n: NotificationRow,
    outcome: AttemptOutcome,
    detail: string | null,
    status: NotificationStatus,
    extra: { next?: Date; recipient?: string; subject?: string; release?: TakenSlot } = {},
  ): Promise<void> {
    await notificationStore.recordAttempt(
      this.deps.pool,
      n.id,
      { number: n.attempts + 1, outcome, detail },
      { status, ...extra },
    );
  }
}
