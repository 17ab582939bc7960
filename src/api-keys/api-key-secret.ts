import type { GatewayGrant } from '../config/policy/usage-limits';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from 'typeorm';

/** Every generated key starts with this, so it is recognisable in logs, scanners and headers. */
export const API_KEY_PREFIX = 'tsk_live_';
/** How much of a key is kept visible (`tsk_live_ab12`): enough to recognise, useless to guess. */
const VISIBLE_LENGTH = API_KEY_PREFIX.length + 4;

export const API_KEYS_CHANNEL = 'tessera_api_keys';

/** 256 random bits: one SHA-256 is the right digest (a slow KDF per request would only add latency). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function digestApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_LENGTH);
}

/** Constant-time comparison of two digests. */
export function digestsMatch(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface NewApiKey {
  id: string;
  name: string;
  prefix: string;
  roles: string[];
  /** The key's gateway grant, as listed (null: none). */
  models: string[] | null;
  rate_limit: string | null;
  token_limit: string | null;
  budget: string | null;
  key: string;
}

/**
 * Inserts a new key and announces it to every replica (on commit). Shared by the admin API and
 * the CLI, which has no running app. The key is returned once and never stored.
 */
export async function insertApiKey(
  manager: EntityManager,
  input: { name: string; roles: string[]; createdBy?: string; grant?: GatewayGrant },
): Promise<NewApiKey> {
  const key = generateApiKey();
  const id = 'ak_' + randomBytes(8).toString('hex');
  await manager.query(
    `INSERT INTO api_keys (id, name, prefix, digest, roles, created_by, models, rate_limit, token_limit, budget)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      id,
      input.name,
      visiblePrefix(key),
      digestApiKey(key).toString('hex'),
      input.roles,
      input.createdBy ?? null,
      input.grant?.models ?? null,
      input.grant?.rate_limit ?? null,
      input.grant?.token_limit ?? null,
      input.grant?.budget ?? null,
    ],
  );
  await manager.query('SELECT pg_notify($1, $2)', [API_KEYS_CHANNEL, id]);
  return {
    id,
    name: input.name,
    prefix: visiblePrefix(key),
    roles: input.roles,
    models: input.grant?.models ?? null,
    rate_limit: input.grant?.rate_limit ?? null,
    token_limit: input.grant?.token_limit ?? null,
    budget: input.grant?.budget ?? null,
    key,
  };
}
