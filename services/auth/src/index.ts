export { startAuthService, buildAuth } from './service';
export type {
  StartAuthServiceOptions,
  RunningAuthService,
  BuildAuthOptions,
  AuthComponents,
} from './service';
export { loadAuthConfig, loadAuthConfigOrExit, authConfigSchema, type AuthConfig } from './config';
export { createAuthApp, type AuthAppDeps } from './app';
