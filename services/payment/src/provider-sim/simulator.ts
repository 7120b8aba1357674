import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, signatureHeader } from '../gateway/webhook-signature';

/**
 * A card processor stand-in that behaves like an asynchronous one (Stripe's API shapes):
 * payment intents created under an idempotency key that may succeed, fail, stay `processing`
 * (settled after a delay) or `requires_action` (3-D Secure, completed at /authenticate/:id), be
 * cancelled while nothing is under way (POST /v1/payment_intents/:id/cancel, as Stripe allows), and
 * signed webhooks delivered with retries and backoff until the receiver answers 2xx. Runs as
 * its own process (main.ts) so payment's adapter and webhook endpoint cross real HTTP. Test
 * controls under /sim: hold deliveries and release them reordered, duplicate every delivery,
 * answer a create call only once its webhooks were delivered, list the delivery attempts.
 * Only node's own modules: it starts without the repository's build.
 */

type IntentStatus =
  'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';

interface Intent {
  id: string;
  object: 'payment_intent';
  status: IntentStatus;
  amount: number;
  currency: string;
  payment_method: string;
  latest_charge: string | null;
  metadata: Record<string, string>;
  next_action: { type: 'redirect_to_url'; redirect_to_url: { url: string } } | null;
  last_payment_error: { code: string; message: string } | null;
  cancellation_reason: string | null;
  created: number;
}

interface WebhookEvent {
  id: string;
  object: 'event';
  type: string;
  created: number;
  data: { object: Intent };
}

export interface Delivery {
  eventId: string;
  type: string;
  intentId: string;
  attempt: number;
  /** The receiver's status, or null when it could not be reached. */
  status: number | null;
  at: string;
}

export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** Where events go (payment's POST /api/payments/webhooks); none yet: tries fail and are retried. */
  webhookUrl?: string;
  /** Every secret signs each delivery (one v1 each): two while a secret is rotated. */
  secrets: string[];
  /** How long `processing` lasts before it settles. */
  settleDelayMs?: number;
  /** Backoff of a failed delivery: base * 2^(n-1), at most max, up to maxAttempts tries. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
  /** The address customers reach it at (next_action URLs); default its own. */
  publicUrl?: string;
  /**
   * A file its intents, charges and idempotency keys are kept in, written before each answer
   * that changed them, and read at the next start: a processor does not forget a charge when
   * the shop restarts (refunds of it must still work). Without it, memory only.
   */
  stateFile?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface Controls {
  webhookUrl?: string;
  settleDelayMs?: number;
  /** Keep new events until POST /sim/release. */
  holdDeliveries?: boolean;
  /** Deliver every event this many times (each until 2xx). */
  duplicate?: number;
  /** Answer a create call only after the webhooks it caused were delivered. */
  respondAfterWebhook?: boolean;
}

type Outcome = { kind: 'succeed' } | { kind: 'fail'; code: string; message: string };

/** The test cards (Stripe's names): what confirming an intent with each leads to. */
const CARDS: Record<string, { first: 'now' | 'processing' | 'action'; then: Outcome }> = {
  tok_visa: { first: 'now', then: { kind: 'succeed' } },
  tok_mastercard: { first: 'now', then: { kind: 'succeed' } },
  tok_chargeDeclined: {
    first: 'now',
    then: { kind: 'fail', code: 'card_declined', message: 'Your card was declined' },
  },
  tok_insufficientFunds: {
    first: 'now',
    then: { kind: 'fail', code: 'insufficient_funds', message: 'Your card has insufficient funds' },
  },
  tok_processing: { first: 'processing', then: { kind: 'succeed' } },
  tok_processingDeclined: {
    first: 'processing',
    then: { kind: 'fail', code: 'card_declined', message: 'Your card was declined' },
  },
  tok_threeDSecure: { first: 'action', then: { kind: 'succeed' } },
};

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

const apiError = (status: number, type: string, message: string, extra: object = {}) =>
  new HttpError(status, { error: { type, message, ...extra } });

export class ProviderSimulator {
  readonly intents = new Map<string, Intent>();
  readonly deliveries: Delivery[] = [];
  private readonly keys = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  private readonly charges = new Map<string, { amount: number; refunded: number }>();
  private readonly held: WebhookEvent[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly controls: Required<Omit<Controls, 'webhookUrl'>> & { webhookUrl?: string };
  private server?: http.Server;
  private closing = false;
  url = '';

  constructor(private readonly options: SimulatorOptions) {
    this.controls = {
      webhookUrl: options.webhookUrl,
      settleDelayMs: options.settleDelayMs ?? 2000,
      holdDeliveries: false,
      duplicate: 1,
      respondAfterWebhook: false,
    };
  }

  async start(): Promise<string> {
    this.load();
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    const { address, port } = this.server.address() as AddressInfo;
    this.url = `http://${address}:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    await Promise.allSettled([...this.inFlight]);
  }

  private log(line: Record<string, unknown>): void {
    this.options.log?.({ at: new Date().toISOString(), ...line });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let out: { status: number; body: unknown };
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://sim');
      out = await this.route(req.method ?? 'GET', url.pathname, body, req);
    } catch (err) {
      out =
        err instanceof HttpError
          ? { status: err.status, body: err.body }
          : {
              status: 500,
              body: { error: { type: 'api_error', message: (err as Error).message } },
            };
    }
    // Kept before the answer: what it answered must survive a restart.
    try {
      if (req.method !== 'GET') this.save();
    } catch (err) {
      out = {
        status: 500,
        body: {
          error: { type: 'api_error', message: `state not kept: ${(err as Error).message}` },
        },
      };
    }
    send(res, out.status, out.body);
  }

  /** What `stateFile` holds; written whole through a temporary file, so never half. */
  private save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const state = {
      intents: [...this.intents.values()],
      charges: [...this.charges.entries()],
      keys: [...this.keys.entries()],
    };
    fs.writeFileSync(`${file}.next`, JSON.stringify(state));
    fs.renameSync(`${file}.next`, file);
  }

  /**
   * The state a previous run kept. An intent left `processing` settles again after the
   * delay, as it would have; its webhooks go out then (a processor retries deliveries).
   */
  private load(): void {
    const file = this.options.stateFile;
    if (!file || !fs.existsSync(file)) return;
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      intents: Intent[];
      charges: [string, { amount: number; refunded: number }][];
      keys: [string, { fingerprint: string; status: number; body: unknown }][];
    };
    for (const intent of state.intents) this.intents.set(intent.id, intent);
    for (const [chargeId, charge] of state.charges) this.charges.set(chargeId, charge);
    for (const [scope, answer] of state.keys) this.keys.set(scope, answer);
    for (const intent of this.intents.values()) {
      if (intent.status !== 'processing') continue;
      const then = (CARDS[intent.payment_method] ?? CARDS.tok_threeDSecure!).then;
      this.later(() => this.emit([this.settle(intent, then)]));
    }
  }

  private async route(
    method: string,
    path: string,
    raw: string,
    req: IncomingMessage,
  ): Promise<{ status: number; body: unknown }> {
    const parts = path.split('/').filter(Boolean);
    if (method === 'POST' && path === '/v1/payment_intents') {
      return this.idempotent(req, raw, () => this.createIntent(parseJson(raw)));
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'payment_intents' && parts[2]) {
      return { status: 200, body: this.intent(parts[2]) };
    }
    if (
      method === 'POST' &&
      parts.length === 4 &&
      parts[0] === 'v1' &&
      parts[1] === 'payment_intents' &&
      parts[3] === 'cancel'
    ) {
      const intentId = parts[2]!;
      return this.idempotent(req, raw, () => this.cancel(intentId, parseJson(raw)));
    }
    if (method === 'POST' && path === '/v1/refunds') {
      return this.idempotent(req, raw, () => this.refund(parseJson(raw)));
    }
    if (parts[0] === 'authenticate' && parts[1] && parts.length === 2) {
      if (method === 'GET') return { status: 200, body: this.authenticatePage(parts[1]) };
      if (method === 'POST') return this.authenticate(parts[1], raw, req);
    }
    if (method === 'GET' && path === '/sim/health') return { status: 200, body: { ok: true } };
    if (method === 'GET' && path === '/sim/deliveries') {
      return { status: 200, body: { deliveries: this.deliveries, held: this.held.length } };
    }
    if (method === 'POST' && path === '/sim/config') {
      this.configure(parseJson(raw) as Controls);
      return { status: 200, body: { ...this.controls } };
    }
    if (method === 'POST' && path === '/sim/release') {
      const { order } = parseJson(raw) as { order?: 'fifo' | 'reverse' };
      return { status: 200, body: { released: await this.release(order ?? 'fifo') } };
    }
    throw apiError(404, 'invalid_request_error', `Unrecognized request URL (${method} ${path})`);
  }

  configure(controls: Controls): void {
    for (const [key, value] of Object.entries(controls)) {
      if (value !== undefined) (this.controls as Record<string, unknown>)[key] = value;
    }
  }

  /** Stripe's idempotency: a key replays its first answer; other parameters with it are refused. */
  private async idempotent(
    req: IncomingMessage,
    raw: string,
    run: () => Promise<{ status: number; body: unknown }>,
  ): Promise<{ status: number; body: unknown }> {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') return capture(run);
    const scope = `${req.url}:${key}`;
    const fingerprint = createHash('sha256').update(raw).digest('hex');
    const known = this.keys.get(scope);
    if (known) {
      if (known.fingerprint !== fingerprint) {
        throw apiError(
          400,
          'idempotency_error',
          'Keys for idempotent requests can only be used with the same parameters they were first used with',
        );
      }
      return { status: known.status, body: known.body };
    }
    const out = await capture(run);
    this.keys.set(scope, { fingerprint, ...out });
    return out;
  }

  private async createIntent(
    input: Record<string, unknown>,
  ): Promise<{ status: number; body: unknown }> {
    const amount = input.amount;
    const currency = input.currency;
    const token = input.payment_method;
    if (!Number.isSafeInteger(amount) || (amount as number) < 1) {
      throw apiError(400, 'invalid_request_error', 'amount must be a positive integer');
    }
    if (typeof currency !== 'string' || typeof token !== 'string') {
      throw apiError(400, 'invalid_request_error', 'currency and payment_method are required');
    }
    const intent: Intent = {
      id: id('pi'),
      object: 'payment_intent',
      status: 'processing',
      amount: amount as number,
      currency,
      payment_method: token,
      latest_charge: null,
      metadata: (input.metadata as Record<string, string>) ?? {},
      next_action: null,
      last_payment_error: null,
      cancellation_reason: null,
      created: now(),
    };
    this.intents.set(intent.id, intent);
    const card = CARDS[token] ?? {
      first: 'now' as const,
      then: { kind: 'fail' as const, code: 'invalid_token', message: 'Unknown payment token' },
    };
    const events: WebhookEvent[] = [];
    if (card.first === 'now') {
      events.push(this.settle(intent, card.then));
    } else if (card.first === 'processing') {
      events.push(this.event(intent, 'payment_intent.processing'));
      this.later(() => this.emit([this.settle(intent, card.then)]));
    } else {
      intent.status = 'requires_action';
      intent.next_action = {
        type: 'redirect_to_url',
        redirect_to_url: { url: `${this.options.publicUrl ?? this.url}/authenticate/${intent.id}` },
      };
      events.push(this.event(intent, 'payment_intent.requires_action'));
    }
    this.log({ msg: 'intent created', intent: intent.id, status: intent.status, token });
    const delivered = this.emit(events);
    if (this.controls.respondAfterWebhook) await delivered;
    if (intent.status === 'requires_payment_method') {
      throw apiError(402, 'card_error', intent.last_payment_error!.message, {
        code: intent.last_payment_error!.code,
        payment_intent: snapshot(intent),
      });
    }
    return { status: 200, body: snapshot(intent) };
  }

  /** The customer's 3-D Secure step: `result` succeed (then processing, settled later) or fail. */
  private async authenticate(
    intentId: string,
    raw: string,
    req: IncomingMessage,
  ): Promise<{ status: number; body: unknown }> {
    const intent = this.intent(intentId);
    if (intent.status !== 'requires_action') {
      throw apiError(400, 'invalid_request_error', `The intent is ${intent.status}`);
    }
    const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded');
    const result = form
      ? new URLSearchParams(raw).get('result')
      : (parseJson(raw) as { result?: string }).result;
    intent.next_action = null;
    if (result === 'fail') {
      await this.emit([
        this.settle(intent, {
          kind: 'fail',
          code: 'authentication_failed',
          message: 'The customer failed 3-D Secure authentication',
        }),
      ]);
    } else {
      intent.status = 'processing';
      const then = (CARDS[intent.payment_method] ?? CARDS.tok_threeDSecure!).then;
      await this.emit([this.event(intent, 'payment_intent.processing')]);
      this.later(() => this.emit([this.settle(intent, then)]));
    }
    return { status: 200, body: snapshot(intent) };
  }

  /**
   * Stripe's cancel: allowed while the intent waits on a payment method or on the customer's
   * action; once it is `processing` or final, a 400 `payment_intent_unexpected_state` naming
   * the intent as it now stands (what the caller must go by).
   */
  private async cancel(
    intentId: string,
    input: Record<string, unknown>,
  ): Promise<{ status: number; body: unknown }> {
    const intent = this.intent(intentId);
    if (intent.status !== 'requires_action' && intent.status !== 'requires_payment_method') {
      throw apiError(
        400,
        'invalid_request_error',
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}`,
        { code: 'payment_intent_unexpected_state', payment_intent: snapshot(intent) },
      );
    }
    const reason = input.cancellation_reason;
    intent.status = 'canceled';
    intent.next_action = null;
    intent.cancellation_reason = typeof reason === 'string' ? reason : null;
    this.log({ msg: 'intent canceled', intent: intent.id, reason: intent.cancellation_reason });
    const delivered = this.emit([this.event(intent, 'payment_intent.canceled')]);
    if (this.controls.respondAfterWebhook) await delivered;
    return { status: 200, body: snapshot(intent) };
  }

  private authenticatePage(intentId: string): string {
    const intent = this.intent(intentId);
    return `3-D Secure for ${intent.id} (${intent.amount} ${intent.currency}): POST result=succeed or result=fail here`;
  }

  private refund(input: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    const charge = this.charges.get(String(input.charge));
    const amount = input.amount as number;
    if (!charge)
      throw apiError(404, 'invalid_request_error', 'No such charge', { code: 'unknown_charge' });
    if (!Number.isSafeInteger(amount) || amount < 1 || charge.refunded + amount > charge.amount) {
      throw apiError(400, 'invalid_request_error', 'Refund exceeds the charge', {
        code: 'amount_too_large',
      });
    }
    charge.refunded += amount;
    return Promise.resolve({
      status: 200,
      body: { id: id('re'), object: 'refund', status: 'succeeded', amount, charge: input.charge },
    });
  }

  private intent(intentId: string): Intent {
    const intent = this.intents.get(intentId);
    if (!intent) {
      throw apiError(404, 'invalid_request_error', `No such payment_intent: '${intentId}'`);
    }
    return intent;
  }

  /** Settles an intent for good and returns the event telling it. */
  private settle(intent: Intent, outcome: Outcome): WebhookEvent {
    intent.next_action = null;
    if (outcome.kind === 'succeed') {
      intent.status = 'succeeded';
      intent.latest_charge = id('ch');
      this.charges.set(intent.latest_charge, { amount: intent.amount, refunded: 0 });
      return this.event(intent, 'payment_intent.succeeded');
    }
    intent.status = 'requires_payment_method';
    intent.last_payment_error = { code: outcome.code, message: outcome.message };
    return this.event(intent, 'payment_intent.payment_failed');
  }

  private event(intent: Intent, type: string): WebhookEvent {
    return {
      id: id('evt'),
      object: 'event',
      type,
      created: now(),
      data: { object: snapshot(intent) },
    };
  }

  private later(run: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // The settlement is made before run's first await: kept before its webhooks go.
      const delivered = run();
      try {
        this.save();
      } catch (err) {
        this.log({ msg: 'state not kept', error: (err as Error).message });
      }
      void delivered;
    }, this.controls.settleDelayMs);
    this.timers.add(timer);
  }

  /** Sends events (each `duplicate` times), or holds them; resolves once each was delivered. */
  private emit(events: WebhookEvent[]): Promise<void> {
    if (this.controls.holdDeliveries) {
      this.held.push(...events);
      return Promise.resolve();
    }
    const copies = Math.max(1, this.controls.duplicate);
    const all = events.flatMap((e) => Array.from({ length: copies }, () => this.deliver(e)));
    return Promise.all(all).then(() => undefined);
  }

  private async release(order: 'fifo' | 'reverse'): Promise<number> {
    const events = this.held.splice(0);
    if (order === 'reverse') events.reverse();
    this.controls.holdDeliveries = false;
    // One after the other, so the receiver sees exactly this order.
    for (const e of events) {
      for (let i = 0; i < Math.max(1, this.controls.duplicate); i += 1) await this.deliver(e);
    }
    return events.length;
  }

  /** Posts one event until a 2xx, signed afresh each try (as Stripe does), with backoff. */
  private deliver(event: WebhookEvent): Promise<void> {
    const run = (async () => {
      const payload = Buffer.from(JSON.stringify(event));
      const maxAttempts = this.options.maxAttempts ?? 20;
      for (let attempt = 1; attempt <= maxAttempts && !this.closing; attempt += 1) {
        const url = this.controls.webhookUrl;
        let status: number | null = null;
        if (url) {
          try {
            const res = await fetch(url, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                [SIGNATURE_HEADER]: signatureHeader(payload, this.options.secrets, now()),
              },
              body: payload,
              signal: AbortSignal.timeout(10_000),
            });
            status = res.status;
            await res.arrayBuffer();
          } catch {
            status = null;
          }
        }
        this.deliveries.push({
          eventId: event.id,
          type: event.type,
          intentId: event.data.object.id,
          attempt,
          status,
          at: new Date().toISOString(),
        });
        this.log({ msg: 'webhook delivery', event: event.id, type: event.type, attempt, status });
        if (status !== null && status >= 200 && status < 300) return;
        const base = this.options.retryBaseMs ?? 1000;
        await sleep(Math.min(base * 2 ** (attempt - 1), this.options.retryMaxMs ?? 60_000));
      }
    })();
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }
}

function snapshot(intent: Intent): Intent {
  return JSON.parse(JSON.stringify(intent)) as Intent;
}

async function capture(
  run: () => Promise<{ status: number; body: unknown }>,
): Promise<{ status: number; body: unknown }> {
  try {
    return await run();
  } catch (err) {
    // A refusal is an answer like any other: the key replays it.
    if (err instanceof HttpError && err.status < 500) return { status: err.status, body: err.body };
    throw err;
  }
}

function parseJson(raw: string): Record<string, unknown> {
  if (raw === '') return {};
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // answered below
  }
  throw apiError(400, 'invalid_request_error', 'The body must be a JSON object');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
