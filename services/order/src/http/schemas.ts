import Joi from 'joi';
import { idTokenSchema } from '@ecom/common/ids';
import { visibleLine } from '@ecom/common/http';

/** Schema pieces the order and cart operations share (api.ts, cart-api.ts). */

export const text = visibleLine;

export const productIdSchema = idTokenSchema(128).messages({
  'string.pattern.base': '{{#label}} must be a product id',
});

export const nullable = (schema: Joi.Schema) => schema.allow(null);

export const timestamp = Joi.string().isoDate();

/** How an order is paid: a card token from the payment provider. */
export const orderPayment = Joi.object({
  method: Joi.string().valid('card').required(),
  token: text(200).required(),
});
