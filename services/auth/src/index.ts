/** The package's public surface: what the platform launcher and other workspaces use. */
export * from './service';
export { authConfigSchema, loadAuthConfig, type AuthConfig } from './config';
export { authApi } from './http/api';
export type { Accounts, Session } from './application/accounts';
export type { PasswordHasher } from './application/password-hasher';
