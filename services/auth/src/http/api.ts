import Joi from 'joi';
import { objectIdSchema } from '@ecom/common/ids';
import { ROLES } from '@ecom/common/auth';
import {
  addressSchema,
  defineApi,
  deletedResponse,
  pageQueryKeys,
  type ResponseSpec,
  visibleLine,
} from '@ecom/common/http';
import { emailHasHiddenCharacters, normaliseEmail } from '../domain/user';

/**
 * The auth service's HTTP API: routes, access, input schemas and answers. The routes bind
 * their handlers to it, the gateway routes and rate-limits by it, /docs and Postman are
 * generated from it.
 *
 * Every string is bounded and unknown keys are refused, so operator injection
 * (`{"email": {"$gt": ""}}`), wrong types and extra fields answer 400. Passwords are never
 * trimmed or converted: they are compared byte for byte.
 */

/**
 * The canonical form (normaliseEmail: NFKC, trimmed, lower-case), so one address has one
 * account whatever the keyboard; invisible, control and space characters are refused.
 */
const email = Joi.string()
  .custom((value: string, helpers) => {
    const canonical = normaliseEmail(value);
    return emailHasHiddenCharacters(canonical) ? helpers.error('email.hidden') : canonical;
  }, 'canonical email')
  .email({ tlds: { allow: false } })
  .max(254)
  .messages({
    'email.hidden': '{{#label}} must not contain spaces, invisible or control characters',
  });
/** Generous bound for input; the policy (8..256 characters) is checked in the domain. */
const password = Joi.string().min(1).max(1024);
const name = visibleLine(100);
const refreshToken = Joi.string()
  .pattern(/^[A-Za-z0-9_-]{20,200}$/)
  .required()
  .messages({ 'string.pattern.base': '"refreshToken" is not a valid refresh token' });
const role = Joi.string().valid(...ROLES);
const timestamp = Joi.string().isoDate();

const refreshBody = Joi.object({ refreshToken });

const profileBody = Joi.object({
  name,
  // null removes the field.
  phone: Joi.string()
    .trim()
    .pattern(/^\+?[0-9 ()-]{4,32}$/)
    .allow(null)
    .messages({ 'string.pattern.base': '"phone" must be a phone number' }),
  address: addressSchema.allow(null),
})
  .min(1)
  .messages({ 'object.min': 'Provide at least one of: name, phone, address' });

const userIdParams = Joi.object({
  id: objectIdSchema.required().messages({
    'string.hex': '"id" must be a user id (24 hex characters)',
    'string.length': '"id" must be a user id (24 hex characters)',
  }),
});

export const userSchema = Joi.object({
  id: Joi.string(),
  email: Joi.string(),
  name: Joi.string(),
  role,
  phone: Joi.string(),
  address: addressSchema,
  createdAt: timestamp,
  updatedAt: timestamp,
}).label('User');

/** A session is its own resource: the user and a fresh token pair. */
export const sessionSchema = Joi.object({
  user: userSchema,
  accessToken: Joi.string().description('ES256 JWT'),
  refreshToken: Joi.string().description('Opaque; spent by its first use (rotation)'),
  tokenType: Joi.string().valid('Bearer'),
  expiresIn: Joi.number().integer().description('Access token lifetime in seconds'),
  refreshTokenExpiresAt: timestamp,
}).label('Session');

const theUser: ResponseSpec = { status: 200, description: 'The user', schema: userSchema };

const profile = {
  get: {
    method: 'get',
    summary: 'Own profile',
    access: 'user',
    response: theUser,
    errors: { 404: 'The account behind the token no longer exists' },
  },
  put: {
    method: 'put',
    summary: 'Update own profile (null removes phone or address); publishes user.updated',
    access: 'user',
    body: profileBody,
    response: theUser,
    errors: { 404: 'The account behind the token no longer exists' },
  },
} as const;

export const authApi = defineApi({
  service: 'auth',
  tag: { name: 'Auth', description: 'Accounts, tokens, profiles (auth service)' },
  prefixes: ['/api/auth', '/api/users'],
  operations: {
    register: {
      method: 'post',
      path: '/api/auth/register',
      summary: 'Create an account (role customer) and sign in',
      access: 'public',
      rateLimit: 'auth',
      body: Joi.object({
        email: email.required(),
        password: password
          .required()
          .description(
            'NIST SP 800-63B: 8-256 characters, no composition rules; refused when in the list of breached passwords',
          ),
        name: name.required(),
      }),
      response: {
        status: 201,
        description: 'A session (Location: the new user)',
        schema: sessionSchema,
      },
      errors: { 400: 'Password policy (details name the rule)', 409: 'Email already registered' },
    },
    login: {
      method: 'post',
      path: '/api/auth/login',
      summary:
        'Sign in (401 invalid credentials; 429 login_throttled with Retry-After while this address waits after repeated failures for this account)',
      access: 'public',
      rateLimit: 'auth',
      body: Joi.object({ email: email.required(), password: password.required() }),
      response: { status: 200, description: 'A session', schema: sessionSchema },
    },
    refresh: {
      method: 'post',
      path: '/api/auth/refresh',
      summary:
        'Rotate a refresh token into a new session (401: unknown, expired, revoked, reused, unknown_user)',
      access: 'public',
      body: refreshBody,
      response: { status: 200, description: 'A new session', schema: sessionSchema },
    },
    logout: {
      method: 'post',
      path: '/api/auth/logout',
      summary: "Revoke this login's refresh token family (no access token needed; idempotent)",
      access: 'public',
      body: refreshBody,
      response: { status: 204, description: 'Revoked' },
    },
    logoutAll: {
      method: 'post',
      path: '/api/auth/logout-all',
      summary: 'Revoke every refresh token of the caller',
      access: 'user',
      response: {
        status: 200,
        description: 'How many were revoked',
        schema: Joi.object({ revoked: Joi.number().integer() }),
      },
    },
    verify: {
      method: 'get',
      path: '/api/auth/verify',
      summary: 'The presented access token, verified',
      access: 'user',
      response: {
        status: 200,
        description: 'Valid: the caller and the token claims',
        schema: Joi.object({
          valid: Joi.boolean(),
          user: Joi.object({ id: Joi.string(), role, email: Joi.string() }),
          claims: Joi.object().unknown(true),
        }),
      },
    },
    changePassword: {
      method: 'put',
      path: '/api/auth/password',
      summary:
        'Change password (revokes every refresh token, answers a new session; 429 password_change_throttled with Retry-After after repeated wrong current passwords)',
      access: 'user',
      body: Joi.object({
        currentPassword: password.required(),
        newPassword: password.required(),
      }),
      response: { status: 200, description: 'A new session', schema: sessionSchema },
      errors: { 400: 'Password policy', 403: 'Wrong current password' },
    },
    getProfile: { ...profile.get, path: '/api/auth/profile' },
    updateProfile: { ...profile.put, path: '/api/auth/profile' },
    getUsersProfile: { ...profile.get, path: '/api/users/profile', summary: 'Own profile (alias)' },
    updateUsersProfile: {
      ...profile.put,
      path: '/api/users/profile',
      summary: 'Update own profile (alias)',
    },
    listUsers: {
      method: 'get',
      path: '/api/users',
      summary: 'List users, oldest first (admin)',
      access: ['admin'],
      query: Joi.object({ ...pageQueryKeys, role }),
      response: { status: 200, description: 'A page of users', schema: userSchema, list: true },
    },
    getUser: {
      method: 'get',
      path: '/api/users/:id',
      summary: 'One user (admin)',
      access: ['admin'],
      params: userIdParams,
      response: theUser,
    },
    setRole: {
      method: 'put',
      path: '/api/users/:id/role',
      summary:
        "Change a user's role (admin); ends every session of the user; publishes user.updated when it changes",
      access: ['admin'],
      params: userIdParams,
      body: Joi.object({ role: role.required() }),
      response: theUser,
      errors: {
        403: 'The caller is no longer an admin (details.reason: not_admin)',
        422: 'SELF_ROLE_CHANGE: admins cannot change their own role; LAST_ADMIN: the platform keeps at least one admin',
      },
    },
    deleteUser: {
      method: 'delete',
      path: '/api/users/:id',
      summary: 'Delete a user and its refresh tokens (admin); publishes user.deleted',
      access: ['admin'],
      params: userIdParams,
      response: deletedResponse,
      errors: {
        403: 'The caller is no longer an admin (details.reason: not_admin)',
        422: 'SELF_DELETE: admins cannot delete themselves; LAST_ADMIN: the platform keeps at least one admin',
      },
    },
  },
});
