import { describeIfServer } from '@ecom/infrastructure/testing';
import { sagaReplicasSuite } from './saga-replicas-suite';

describeIfServer('amqp', 'two replicas of order and payment over RabbitMQ', (url) => {
  sagaReplicasSuite('rabbitmq', url);
});
