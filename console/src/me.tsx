import { createContext, useContext } from 'react';
import { grants } from './permissions';

/** The signed-in person as `GET /auth/verify` reports them. */
export interface Me {
  user_id: string;
  email: string | null;
  name: string | null;
  roles: string[];
  permissions: string[];
}

export const MeContext = createContext<Me | undefined>(undefined);

/** Whether the signed-in person's roles grant `permission` (to show or hide an action). */
export function useCan(): (permission: string) => boolean {
  const me = useContext(MeContext);
  return (permission) => (me ? grants(me.permissions, permission) : false);
}

export function useMe(): Me | undefined {
  return useContext(MeContext);
}
