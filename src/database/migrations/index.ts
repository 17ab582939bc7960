import { Foundation1764000000000 } from './1764000000000-foundation';
import { RefreshTokens1764000000001 } from './1764000000001-refresh-tokens';
import { Revocations1764000000002 } from './1764000000002-revocations';
import { RolesAndApiKeys1764000000003 } from './1764000000003-roles-and-api-keys';
import { Users1764000000010 } from './1764000000010-users';
import { Usage1764000000011 } from './1764000000011-usage';
import { Audit1764000000020 } from './1764000000020-audit';
import { KeyPrepublication1764000000030 } from './1764000000030-key-prepublication';
import { AuditChain1764000000500 } from './1764000000500-audit-chain';
import { UsageLedger1764000000600 } from './1764000000600-usage-ledger';
import { GatewayGrants1764000000601 } from './1764000000601-gateway-grants';
import { AuditRequestIdHash1764000000700 } from './1764000000700-audit-request-id-hash';
import { UsageSpillReplays1764000000800 } from './1764000000800-usage-spill-replays';
import { AuditSpillReplays1764000000900 } from './1764000000900-audit-spill-replays';

/** In order. A new migration is added here as well as in its own file. */
export const MIGRATIONS = [
  Foundation1764000000000,
  RefreshTokens1764000000001,
  Revocations1764000000002,
  RolesAndApiKeys1764000000003,
  Users1764000000010,
  Usage1764000000011,
  Audit1764000000020,
  KeyPrepublication1764000000030,
  AuditChain1764000000500,
  UsageLedger1764000000600,
  GatewayGrants1764000000601,
  AuditRequestIdHash1764000000700,
  UsageSpillReplays1764000000800,
  AuditSpillReplays1764000000900,
];
