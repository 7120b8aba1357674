import { checkPayload, type EventData, type EventType } from '../events/contracts';
import { createEvent, type EventEnvelope } from './envelope';

/**
 * A new event whose payload is checked against its contract first (unknown keys refused): a
 * publisher that breaks the contract fails where the mistake is, not in every consumer.
 */
export function contractEvent<T extends EventType>(
  source: string,
  type: T,
  data: EventData<T>,
  overrides: { correlationId?: string; causationId?: string } = {},
): EventEnvelope<EventData<T>> {
  const check = checkPayload(type, data, { strict: true });
  if (!check.ok) throw new Error(`${source} would publish an ${check.reason}`);
  return createEvent(source, type, data, overrides);
}
