import type { AuthUser } from '../auth/types';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      requestId?: string;
      correlationId?: string;
      /** Set only by the authenticate middleware after verifying a token. */
      user?: AuthUser;
    }
  }
}

export {};
