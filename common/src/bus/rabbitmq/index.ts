export * from './rabbitmq-bus';
