import { ApiKeyEntity } from '../api-keys/api-key.entity';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { ClientEntity } from '../clients/client.entity';
import { SigningKeyEntity } from '../keys/signing-key.entity';
import { ParentTokenEntity } from '../tokens/parent-token.entity';
import { RoleEntity } from '../rbac/role.entity';
import { RefreshTokenEntity } from '../refresh-tokens/refresh-token.entity';
import { UsageCounterEntity } from '../usage/usage-counter.entity';
import { LoginAttemptEntity } from '../users/login-attempt.entity';
import { UserEntity } from '../users/user.entity';
import { RevocationEntity } from '../revocation/revocation.entity';

/** Every entity, for the one DataSource options object that Nest and the TypeORM CLI share. */
export const ENTITIES = [
  SigningKeyEntity,
  ClientEntity,
  RefreshTokenEntity,
  UserEntity,
  LoginAttemptEntity,
  UsageCounterEntity,
  AuditEventEntity,
  RevocationEntity,
  ParentTokenEntity,
  RoleEntity,
  ApiKeyEntity,
];
