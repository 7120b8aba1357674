import { describeIfServer } from '@ecom/infrastructure/testing';
import { sagaSuite } from './saga-suite';

describeIfServer('redis', 'order saga over Redis Streams', (url) => {
  sagaSuite('redis', url);
});
