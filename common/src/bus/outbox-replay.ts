import { DEFAULT_RETRY_POLICY, retryBudgetMs, type EventBus } from './types';

// Over a bus that is not durable the outbox relays send again, once, what an earlier run sent
// within the replay window: the bus that took it may have died holding it (ADR 0056).

/**
 * What a replay window adds to the retry budget: the handlers' own time, deliveries waiting
 * their turn, a hold while a consumer's store is down (5 minutes, consumer.ts).
 */
export const REPLAY_WINDOW_MARGIN_MS = 5 * 60_000;

/**
 * How long an outbox relay over `bus` keeps a sent row ready to send again: 0 over a durable
 * bus; else `override`, the bus's own window, or the default policy's budget and margin.
 */
export function outboxReplayWindowMs(bus: EventBus, override?: number): number {
  if (bus.durable) return 0;
  const ms =
    override ?? bus.replayWindowMs ?? retryBudgetMs(DEFAULT_RETRY_POLICY) + REPLAY_WINDOW_MARGIN_MS;
  return Math.max(0, Math.round(ms));
}

/** One relay's part in the replay of its outbox on its bus. */
export interface ReplayTurn {
  /** This relay replays (then calls `ran`); false: another relay of the outbox on this bus does, or did. */
  readonly mine: boolean;
  /** Settles once the replay ran, or was given up. */
  readonly done: Promise<void>;
  ran(): void;
  /** Stopped before it ran: the next relay of the outbox to start on this bus replays. */
  giveUp(): void;
}

/** Outboxes replayed on each bus, by the key of their rows (see replayTurn). */
const replays = new WeakMap<EventBus, Map<string, Promise<void>>>();

/**
 * The first relay of an outbox (`key`: its database and table or collection) to start on a bus
 * replays; one that starts later on the same live bus (a replica in this process, a service
 * restarted on the launcher's bus) would only send again what that bus holds, and waits for
 * the first one's replay instead.
 */
export function replayTurn(bus: EventBus, key: string): ReplayTurn {
  let outboxes = replays.get(bus);
  if (!outboxes) replays.set(bus, (outboxes = new Map()));
  const pending = outboxes.get(key);
  if (pending) return { mine: false, done: pending, ran: () => undefined, giveUp: () => undefined };
  let settle = (): void => undefined;
  const done = new Promise<void>((resolve) => (settle = resolve));
  outboxes.set(key, done);
  let settled = false;
  return {
    mine: true,
    done,
    ran() {
      settled = true;
      settle();
    },
    giveUp() {
      if (settled) return;
      settled = true;
      if (outboxes.get(key) === done) outboxes.delete(key);
      settle();
    },
  };
}
