import { describeIfServer } from '@ecom/infrastructure/testing';
import { sagaSuite } from './saga-suite';

describeIfServer('amqp', 'order saga over RabbitMQ', (url) => {
  sagaSuite('rabbitmq', url);
});
