import Joi from 'joi';
import { parseArgs } from 'node:util';
import { createEventBus, type EventBus, type EventBusConfig } from '@ecom/common/bus';
import { busConfigKeys, loadConfig } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';

export const DEAD_LETTERS_USAGE = `usage: npm run dead-letters -- list <group> [--type <eventType>]
       npm run dead-letters -- replay <group> [--id <id>]... [--type <eventType>]
       npm run dead-letters -- discard <group> (--id <id>... | --type <eventType>)

Lists, replays (to that group only) or discards for good the dead letters of a consumer group (auth, product, comments, payment,
order) on the broker the environment names (EVENT_BUS, AMQP_URL or REDIS_URL). The in-memory
bus of \`npm start\` lives in the launcher: use a service's GET /admin/dead-letters there.
`;

/**
 * `npm run dead-letters`: the operator's tool for what could not be handled. Returns the exit
 * code; writes one JSON line per dead letter (list) or the replay's or discard's counts. An id
 * that is not (or no longer) a dead letter of the group is named, with exit code 1.
 */
export async function deadLettersCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  openBus: (config: EventBusConfig) => EventBus = (config) =>
    createEventBus(config, {
      service: 'dead-letters-cli',
      logger: createLogger('dead-letters-cli', 'error'),
    }),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { id: { type: 'string', multiple: true }, type: { type: 'string' } },
    });
  } catch (err) {
    out(`${(err as Error).message}\n${DEAD_LETTERS_USAGE}`);
    return 2;
  }
  const [command, group] = parsed.positionals;
  const select = { ids: parsed.values.id, eventType: parsed.values.type };
  if (
    !['list', 'replay', 'discard'].includes(command ?? '') ||
    !group ||
    // Discarding is for good: it never takes a whole group by default.
    (command === 'discard' && !select.ids && !select.eventType)
  ) {
    out(DEAD_LETTERS_USAGE);
    return 2;
  }
  const config = loadConfig(Joi.object<EventBusConfig>(busConfigKeys), env);
  if (config.EVENT_BUS === 'memory') {
    out(`EVENT_BUS is memory: nothing to reach outside a running process.\n${DEAD_LETTERS_USAGE}`);
    return 2;
  }
  const bus = openBus(config);
  try {
    if (command === 'list') {
      const letters = await bus.listDeadLetters(group);
      for (const letter of letters) {
        if (!parsed.values.type || letter.event?.eventType === parsed.values.type)
          out(JSON.stringify(letter));
      }
      return 0;
    }
    const result =
      command === 'replay'
        ? await bus.replayDeadLetters(group, select)
        : await bus.discardDeadLetters(group, select);
    out(JSON.stringify(result));
    if (!result.notFound?.length) return 0;
    out(
      `not a dead letter of ${group} (never one, or already replayed or discarded): ${result.notFound.join(', ')}`,
    );
    return 1;
  } finally {
    await bus.close();
  }
}
