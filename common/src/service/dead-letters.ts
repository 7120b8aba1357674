import Joi from 'joi';
import type { Router } from 'express';
import type { JwtVerifyOptions } from '../auth/jwt';
import type { DeadLetterSelection, EventBus } from '../bus/types';
import { DependencyUnavailableError, NotFoundError } from '../errors/app-error';
import { defineApi, deletedResponse, type OperationSpec } from '../http/api';
import { bindRoutes } from '../http/bind-routes';
import { reply } from '../http/reply';
import { openApiDocument, openApiFragment } from '../openapi/openapi';
import { page, pageOffset, pageQueryKeys, type PageQuery } from '../http/conventions';

const deadLetterSchema = Joi.object({
  id: Joi.string().required(),
  group: Joi.string().required(),
  reason: Joi.string().allow('').required(),
  attempts: Joi.number().integer().required(),
  event: Joi.object().unknown(true),
  raw: Joi.string().allow(''),
  deadAt: Joi.string().allow('').required().description('When the last delivery failed'),
  firstFailedAt: Joi.string().description('When the first delivery failed, when known'),
});

const idParams = Joi.object({ id: Joi.string().max(200).required() });
const selection = {
  ids: Joi.array().items(Joi.string().max(200)).min(1).max(10_000),
  eventType: Joi.string().max(200),
};
const notFound = Joi.array()
  .items(Joi.string())
  .description('Ids asked for that are not (or no longer) dead letters; only when ids were given');
const noneFound =
  'None of the ids is a dead letter of this service (already replayed or discarded?)';

/**
 * The dead letters of a service's consumer group, on the service's own port for an admin (the
 * gateway does not route them, like /metrics): list them, read one, replay or discard one by id,
 * or several (by ids or of one event type; replay may take all). Replays go to this group only.
 * An id that is not (or no longer) a dead letter answers 404, so a second replay or discard of
 * the same id does nothing. Every service with consumers gets them from the kit.
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
      body: Joi.object(selection),
      response: {
        status: 200,
        description: 'How many were replayed, and how many could not be (invalid envelopes)',
        schema: Joi.object({ replayed: Joi.number(), skipped: Joi.number(), notFound }),
      },
      errors: { 404: noneFound },
      internal: true,
    },
    discardDeadLetters: {
      method: 'post',
      path: '/admin/dead-letters/discard',
      summary:
        'Removes dead letters for good, by id or of one type (never all at once by accident)',
      access: ['admin'],
      body: Joi.object(selection).or('ids', 'eventType'),
      response: {
        status: 200,
        description: 'How many were discarded',
        schema: Joi.object({ discarded: Joi.number(), notFound }),
      },
      errors: { 404: noneFound },
      internal: true,
    },
    getDeadLetter: {
      method: 'get',
      path: '/admin/dead-letters/:id',
      summary: 'One dead letter, with its reason',
      access: ['admin'],
      params: idParams,
      response: { status: 200, description: 'The dead letter', schema: deadLetterSchema },
      internal: true,
    },
    replayDeadLetter: {
      method: 'post',
      path: '/admin/dead-letters/:id/replay',
      summary: 'Sends one dead letter back to this service to be handled again',
      access: ['admin'],
      params: idParams,
      response: {
        status: 200,
        description: 'Replayed (1), or kept because it is not a valid envelope (skipped 1)',
        schema: Joi.object({ replayed: Joi.number(), skipped: Joi.number() }),
      },
      internal: true,
    },
    discardDeadLetter: {
      method: 'delete',
      path: '/admin/dead-letters/:id',
      summary: 'Removes one dead letter for good',
      access: ['admin'],
      params: idParams,
      response: deletedResponse,
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

/**
 * The OpenAPI document of a service's admin routes. They are internal (left out of the
 * gateway's /docs, which describes what the gateway routes), so each service describes them
 * itself, at GET /admin/openapi.json on its port.
 */
export function adminOpenApiDocument(service: string): Record<string, unknown> {
  const api = deadLetterApi(service);
  const operations = Object.fromEntries(
    Object.entries(api.operations).map(([id, op]) => [id, { ...op, internal: false }]),
  );
  return openApiDocument({
    title: `${service} service: admin API`,
    version: '0.1.0',
    description:
      "On the service's own port, not through the gateway; an admin token is required. Errors " +
      'have the shape `{ "error": { "code", "message", "details", "requestId" } }`.',
    fragments: [openApiFragment({ ...api, operations })],
  });
}

export function deadLetterRoutes(deps: {
  service: string;
  group: string;
  bus: EventBus;
  jwt: JwtVerifyOptions;
}): Router {
  const document = adminOpenApiDocument(deps.service);
  const router = bindRoutes(
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
      async replayDeadLetters(req) {
        const result = await fromBus(() =>
          deps.bus.replayDeadLetters(deps.group, req.body as DeadLetterSelection),
        );
        return noneMatched(result, result.replayed + result.skipped);
      },
      async discardDeadLetters(req) {
        const result = await fromBus(() =>
          deps.bus.discardDeadLetters(deps.group, req.body as DeadLetterSelection),
        );
        return noneMatched(result, result.discarded);
      },
      async getDeadLetter(req) {
        const { id } = req.params as { id: string };
        const letters = await fromBus(() => deps.bus.listDeadLetters(deps.group));
        const letter = letters.find((d) => d.id === id);
        if (!letter) throw deadLetterNotFound(id);
        return letter;
      },
      async replayDeadLetter(req) {
        const { id } = req.params as { id: string };
        const result = await fromBus(() => deps.bus.replayDeadLetters(deps.group, { ids: [id] }));
        if (result.notFound?.length) throw deadLetterNotFound(id);
        return { replayed: result.replayed, skipped: result.skipped };
      },
      async discardDeadLetter(req) {
        const { id } = req.params as { id: string };
        const result = await fromBus(() => deps.bus.discardDeadLetters(deps.group, { ids: [id] }));
        if (result.notFound?.length) throw deadLetterNotFound(id);
        return reply.noContent();
      },
    },
    { jwt: deps.jwt },
  );
  // A description, not data: public like the gateway's /docs.
  router.get('/admin/openapi.json', (_req, res) => {
    res.json(document);
  });
  return router;
}

function deadLetterNotFound(id: string): NotFoundError {
  return new NotFoundError(`No dead letter ${id} (never one, or already replayed or discarded)`);
}

/** A selection by ids that matched none of them is a 404; otherwise the counts stand. */
function noneMatched<T extends { notFound?: string[] }>(result: T, matched: number): T {
  if (result.notFound && matched === 0) {
    throw new NotFoundError(
      `No dead letter ${result.notFound.join(', ')} (never one, or already replayed or discarded)`,
    );
  }
  return result;
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
