import type { EventBus, EventEnvelope } from '@ecom/common/bus';

/** Records every event of the given types in a consumer group of its own. */
export async function spyOnEvents(bus: EventBus, eventTypes: string[], group = 'spy') {
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    group,
    eventTypes,
    handler: async (e) => {
      events.push(e);
    },
  });
  return {
    events,
    /** Events of `type`, optionally only those about one order. */
    of: (type: string, orderId?: string) =>
      events.filter(
        (e) =>
          e.eventType === type &&
          (orderId === undefined || (e.data as { orderId?: string }).orderId === orderId),
      ),
  };
}
