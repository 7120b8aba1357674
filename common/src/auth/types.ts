export const ROLES = ['customer', 'seller', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The identity a verified access token carries. */
export interface AuthUser {
  id: string;
  role: Role;
  email?: string;
}
