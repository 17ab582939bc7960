import { ApiKeyEntity } from '../api-keys/api-key.entity';
import { ClientEntity } from '../clients/client.entity';
import { SigningKeyEntity } from '../keys/signing-key.entity';
import { RoleEntity } from '../rbac/role.entity';
import { RefreshTokenEntity } from '../revocation/refresh-token.entity';

/** Every entity, for the one DataSource options object that Nest and the TypeORM CLI share. */
export const ENTITIES = [
  SigningKeyEntity,
  ClientEntity,
  RefreshTokenEntity,
  RoleEntity,
  ApiKeyEntity,
];
