import Joi from 'joi';
import { ROLES } from '@ecom/common';

/**
 * Request schemas. Every string is bounded and unknown keys are refused, so operator
 * injection (`{"email": {"$gt": ""}}`), wrong types and extra fields answer 400.
 * Passwords are never trimmed or converted: they are compared byte for byte.
 */
const email = Joi.string()
  .trim()
  .lowercase()
  .email({ tlds: { allow: false } })
  .max(254);
/** Generous bound for input; the policy (8 chars..72 bytes) is checked in the domain. */
const password = Joi.string().min(1).max(1024);
const name = Joi.string().trim().min(1).max(100);
const refreshToken = Joi.string()
  .pattern(/^[A-Za-z0-9_-]{20,200}$/)
  .required()
  .messages({ 'string.pattern.base': '"refreshToken" is not a valid refresh token' });

const address = Joi.object({
  line1: Joi.string().trim().min(1).max(200).required(),
  line2: Joi.string().trim().max(200).allow(''),
  city: Joi.string().trim().min(1).max(100).required(),
  postalCode: Joi.string().trim().max(20),
  region: Joi.string().trim().max(100),
  country: Joi.string()
    .trim()
    .uppercase()
    .pattern(/^[A-Z]{2}$/)
    .required()
    .messages({ 'string.pattern.base': '"country" must be an ISO 3166-1 alpha-2 code' }),
});

export const registerBody = Joi.object({
  email: email.required(),
  password: password.required(),
  name: name.required(),
});

export const loginBody = Joi.object({
  email: email.required(),
  password: password.required(),
});

export const refreshBody = Joi.object({ refreshToken });

export const profileBody = Joi.object({
  name,
  // null removes the field.
  phone: Joi.string()
    .trim()
    .pattern(/^\+?[0-9 ()-]{4,32}$/)
    .allow(null)
    .messages({ 'string.pattern.base': '"phone" must be a phone number' }),
  address: address.allow(null),
})
  .min(1)
  .messages({ 'object.min': 'Provide at least one of: name, phone, address' });

export const passwordBody = Joi.object({
  currentPassword: password.required(),
  newPassword: password.required(),
});

export const userIdParams = Joi.object({
  id: Joi.string()
    .pattern(/^[0-9a-f]{24}$/i)
    .required()
    .messages({ 'string.pattern.base': '"id" must be a user id (24 hex characters)' }),
});

export const roleBody = Joi.object({
  role: Joi.string()
    .valid(...ROLES)
    .required(),
});

export const listUsersQuery = Joi.object({
  page: Joi.number().integer().min(1).max(100000).default(1),
  limit: Joi.number().integer().min(1).max(100).default(20),
  role: Joi.string().valid(...ROLES),
});
