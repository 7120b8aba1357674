import { traceSuite } from './trace-suite';

describe('tracing the order saga over the in-memory bus', () => {
  traceSuite('memory');
});
