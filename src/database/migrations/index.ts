import { Foundation1764000000000 } from './1764000000000-foundation';
import { RefreshTokens1764000000001 } from './1764000000001-refresh-tokens';
import { RolesAndApiKeys1764000000003 } from './1764000000003-roles-and-api-keys';

/** In order. A new migration is added here as well as in its own file. */
export const MIGRATIONS = [
  Foundation1764000000000,
  RefreshTokens1764000000001,
  RolesAndApiKeys1764000000003,
];
