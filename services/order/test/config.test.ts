import { loadConfig } from '@ecom/common/config';
import { testServiceEnv } from '@ecom/test-support';
import { orderConfigSchema } from '../src/config';

/** The order service's own settings: a bad value stops it at start, naming the variable. */
describe('order configuration: guest carts', () => {
  const env = {
    ...testServiceEnv,
    DATABASE_URL: 'postgres://127.0.0.1:5432/order',
    PRODUCT_SERVICE_URL: 'http://127.0.0.1:1',
    AUTH_SERVICE_URL: 'http://127.0.0.1:2',
  };

  it('forgets an empty guest cart after an hour, any other after 30 days, by default', () => {
    const config = loadConfig(orderConfigSchema, env);
    expect(config.CART_GUEST_EMPTY_IDLE_MS).toBe(60 * 60 * 1000);
    expect(config.CART_GUEST_IDLE_MS).toBe(30 * 24 * 60 * 60 * 1000);
  });

  it.each(['soon', '999', '-1', '1500.5'])(
    'refuses CART_GUEST_EMPTY_IDLE_MS=%s, naming it',
    (value) => {
      expect(() =>
        loadConfig(orderConfigSchema, { ...env, CART_GUEST_EMPTY_IDLE_MS: value }),
      ).toThrow(/CART_GUEST_EMPTY_IDLE_MS/);
    },
  );

  it('takes a valid one as a number of milliseconds', () => {
    expect(
      loadConfig(orderConfigSchema, { ...env, CART_GUEST_EMPTY_IDLE_MS: '600000' })
        .CART_GUEST_EMPTY_IDLE_MS,
    ).toBe(600_000);
  });
});
