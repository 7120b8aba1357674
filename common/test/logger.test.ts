import { PassThrough } from 'node:stream';
import winston from 'winston';
import { createLogger, runWithContext, type Logger } from '../src/logging';

/** The logger's lines, captured instead of printed. */
function capture(logger: Logger): string[] {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
  logger.clear();
  logger.add(new winston.transports.Stream({ stream }));
  return lines;
}

/** A field whose serialisation is counted: the JSON format calls toJSON once per line built. */
function counted() {
  const seen = { count: 0 };
  return { seen, field: { toJSON: () => ++seen.count } };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger', () => {
  it('builds no line for a call below its level, in any of the call forms', async () => {
    const logger = createLogger('svc', 'warn');
    const lines = capture(logger);
    const { seen, field } = counted();
    logger.info('not printed', { field });
    logger.debug('not printed', { field });
    logger.log('info', 'not printed', { field });
    logger.log({ level: 'http', message: 'not printed', field });
    logger.child({ part: 'x' }).info('not printed', { field });
    await flush();
    expect(seen.count).toBe(0);
    expect(lines).toEqual([]);
  });

  it('prints what is at or above its level, with the service, the context and a child meta', async () => {
    const logger = createLogger('svc', 'info');
    const lines = capture(logger);
    const { seen, field } = counted();
    runWithContext({ correlationId: 'corr-1' }, () => {
      logger.info('printed', { field });
      logger.log('warn', 'printed too');
      logger.child({ part: 'x' }).error('and this');
    });
    logger.debug('not this');
    await flush();
    expect(seen.count).toBe(1);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'printed',
        field: 1,
        service: 'svc',
        correlationId: 'corr-1',
      }),
      expect.objectContaining({ level: 'warn', message: 'printed too', correlationId: 'corr-1' }),
      expect.objectContaining({
        level: 'error',
        message: 'and this',
        part: 'x',
        correlationId: 'corr-1',
      }),
    ]);
  });

  it('serves a detached call, as winston does (`.catch(logger.error)`)', async () => {
    const logger = createLogger('svc', 'info');
    const lines = capture(logger);
    const { error, debug } = logger;
    error('detached');
    debug('detached, below the level');
    await flush();
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['detached']);
  });

  it('follows a level changed at run time', async () => {
    const logger = createLogger('svc', 'error');
    const lines = capture(logger);
    logger.info('before');
    logger.level = 'info';
    logger.info('after');
    await flush();
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['after']);
  });
});
