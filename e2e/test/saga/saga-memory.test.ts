import { sagaSuite } from './saga-suite';

describe('order saga over the in-memory bus', () => {
  sagaSuite('memory');
});
