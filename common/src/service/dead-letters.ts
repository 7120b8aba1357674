import Joi from 'joi';
import type { Router } from 'express';
import type { JwtVerifyOptions } from '../auth/jwt';
import type { EventBus } from '../bus/types';
import { DependencyUnavailableError } from '../errors/app-error';
import { defineApi, type OperationSpec } from '../http/api';
import { bindRoutes } from '../http/bind-routes';
import { page, pageOffset, pageQueryKeys, type PageQuery } from '../http/conventions';

const deadLetterSchema = Joi.object({
  id: Joi.string().required(),
  group: Joi.string().required(),
  reason: Joi.string().allow('').required(),
  attempts: Joi.number().integer().required(),
  event: Joi.object().unknown(true),
  raw: Joi.string().allow(''),
  deadAt: Joi.string().allow('').required(),
});

/**
 * The dead letters of a service's consumer group, on the service's own port for an admin (the
 * gateway does not route them, like /metrics): list them, and replay all, some by id, or those
 * of one event type. Every service with consumers gets them from the kit.
 */
export function deadLetterApi(service: string) {
  const operations = {
    listDeadLetters: {
      method: 'get',
      path: '/admin/dead-letters',
      summary: "The dead letters of this service's consumer group, oldest first",
      access: ['admin'],
      query: Joi.object({ ...pageQueryKeys, eventType: Joi.string().max(200) }),
      response: { status: 200, description: 'Dead letters', schema: deadLetterSchema, list: true },
      internal: true,
    },
    replayDeadLetters: {
      method: 'post',
      path: '/admin/dead-letters/replay',
      summary:
        'Sends dead letters back to this service to be handled again (all, by id, or of one type)',
      access: ['admin'],
      body: Joi.object({
        ids: Joi.array().items(Joi.string().max(200)).min(1).max(10_000),
        eventType: Joi.string().max(200),
      }),
      response: {
        status: 200,
        description: 'How many were replayed, and how many could not be (invalid envelopes)',
        schema: Joi.object({ replayed: Joi.number(), skipped: Joi.number() }),
      },
      internal: true,
    },
  } satisfies Record<string, OperationSpec>;
  return defineApi({
    service,
    tag: { name: 'Dead letters', description: 'Events that could not be handled' },
    prefixes: ['/admin'],
    operations,
  });
}

export function deadLetterRoutes(deps: {
  service: string;
  group: string;
  bus: EventBus;
  jwt: JwtVerifyOptions;
}): Router {
  return bindRoutes(
    deadLetterApi(deps.service),
    {
      async listDeadLetters(req) {
        const query = req.query as unknown as PageQuery & { eventType?: string };
        const all = (await fromBus(() => deps.bus.listDeadLetters(deps.group))).filter(
          (d) => !query.eventType || d.event?.eventType === query.eventType,
        );
        const start = pageOffset(query);
        return page(all.slice(start, start + query.limit), query, all.length);
      },
      replayDeadLetters: (req) =>
        fromBus(() =>
          deps.bus.replayDeadLetters(
            deps.group,
            req.body as { ids?: string[]; eventType?: string },
          ),
        ),
    },
    { jwt: deps.jwt },
  );
}

/**
 * The dead letters live on the broker: when it cannot be asked, the answer is 503 (try again),
 * never a 500. A replay cut short loses nothing: what was re-sent is acknowledged, the rest
 * stays a dead letter.
 */
async function fromBus<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch {
    throw new DependencyUnavailableError('event bus');
  }
}
