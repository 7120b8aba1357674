import { describeIfServer } from '@ecom/infrastructure/testing';
import { traceSuite } from './trace-suite';

describeIfServer('amqp', 'tracing the order saga over RabbitMQ', (url) => {
  traceSuite('rabbitmq', url);
});
