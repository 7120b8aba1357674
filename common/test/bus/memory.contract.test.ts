import { InMemoryEventBus, type EventBus } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { busContract } from './contract';

describe('event bus contract: in-memory', () => {
  busContract({ durable: false }, async () => {
    // One process, one bus: every "service" of a test shares it, as in the embedded run.
    let shared: InMemoryEventBus | undefined;
    return {
      createBus(_service, retry) {
        if (!shared || (shared as unknown as { closed: boolean }).closed) {
          shared = new InMemoryEventBus({ retry, logger: createLogger('bus-contract') });
        }
        return shared;
      },
      async deadLetters(bus: EventBus, group: string) {
        return (bus as InMemoryEventBus).deadLetters.filter((d) => d.group === group);
      },
      publishRaw: (bus, raw, eventType) => (bus as InMemoryEventBus).publishRaw(raw, eventType),
      async cleanup() {},
    };
  });
});
