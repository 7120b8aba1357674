import { describeIfServer } from '@ecom/infrastructure/testing';
import { sagaReplicasSuite } from './saga-replicas-suite';

// Redis Streams consumer groups compete differently (XREADGROUP per consumer, XAUTOCLAIM).
describeIfServer('redis', 'two replicas of order and payment over Redis Streams', (url) => {
  sagaReplicasSuite('redis', url);
});
