import {
  Inject,
  Injectable,
  Logger,
  BeforeApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '../access/principal';
import { ConflictError, NotFoundError, ValidationFailedError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import { SyncedView, SyncedViews } from '../database/synced-view';
import { RbacService } from '../rbac/rbac.service';
import { ApiKeyEntity } from './api-key.entity';
import { API_KEYS_CHANNEL, digestApiKey, digestsMatch, insertApiKey } from './api-key-secret';
import { every, PeriodicJob } from '../common/periodic';
import { checkGatewayGrant, GatewayGrant, grantClaims } from '../config/policy/usage-limits';

export interface ApiKeyView {
  id: string;
  name: string;
  /** The visible start of the key (`tsk_live_ab12`); the key itself is never shown again. */
  prefix: string | null;
  roles: string[];
  source: 'database' | 'environment';
  models: string[] | null;
  rate_limit: string | null;
  token_limit: string | null;
  budget: string | null;
  createdAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface LiveKey {
  id: string;
  digest: Buffer;
  principal: Principal;
}

/** Last-used times are written in one batch this often, never once per request. */
const LAST_USED_FLUSH_MS = 10_000;

/**
 * API keys: created at `/admin/api-keys` or by the CLI, or loaded from the environment by the
 * policy's `api_keys.env_prefix`. Live keys are an in-memory map by digest, rebuilt on NOTIFY, so
 * a revocation reaches every replica at once and verifying a key costs one SHA-256, no query.
 */
@Injectable()
export class ApiKeysService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('ApiKeys');
  private live = new Map<string, LiveKey>();
  private readonly view: SyncedView<Map<string, LiveKey>>;
  private readonly envKeys: LiveKey[];
  private readonly lastUsed = new Map<string, number>();
  private job?: PeriodicJob;

  constructor(
    @Inject(policyConfig.KEY) private readonly policy: ConfigType<typeof policyConfig>,
    @InjectDataSource() private readonly dataSource: DataSource,
    views: SyncedViews,
    private readonly rbac: RbacService,
  ) {
    this.envKeys = policy.envApiKeys.map(({ name, key }) =>
      liveKey(`env:${name}`, name, digestApiKey(key), policy.apiKeys.envRoles),
    );
    this.view = views.create({
      name: 'api-keys',
      channel: API_KEYS_CHANNEL,
      load: () => this.loadLive(),
      loaded: (live) => (this.live = live),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.view.start();
    if (this.envKeys.length)
      this.logger.log(`Loaded ${this.envKeys.length} API key(s) from the environment`);
    this.job = every(
      LAST_USED_FLUSH_MS,
      () => this.flushLastUsed(),
      (e) => this.logger.warn(`API key last-used flush failed: ${e.message}`),
    );
  }

  /** Before the database closes (onApplicationShutdown), after the HTTP server drained. */
  async beforeApplicationShutdown(): Promise<void> {
    this.job?.stop();
    await this.flushLastUsed();
  }

  /**
   * Hot path: the principal of a presented key, or undefined for an unknown or revoked key.
   * One SHA-256 and a map lookup; the digests are then compared in constant time.
   */
  verify(presented: string): Principal | undefined {
    if (presented.length > 512) return undefined;
    const digest = digestApiKey(presented);
    const found = this.live.get(digest.toString('hex'));
    if (!found || !digestsMatch(found.digest, digest)) return undefined;
    if (!found.id.startsWith('env:')) this.lastUsed.set(found.id, Date.now());
    return found.principal;
  }

  /** Every key, newest first, with environment keys last; no secret is ever returned. */
  async list(): Promise<ApiKeyView[]> {
    await this.flushLastUsed();
    const rows = await this.dataSource
      .getRepository(ApiKeyEntity)
      .find({ order: { createdAt: 'DESC' } });
    return [
      ...rows.map((row): ApiKeyView => ({
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        roles: row.roles,
        source: 'database',
        models: row.models ?? null,
        rate_limit: row.rateLimit ?? null,
        token_limit: row.tokenLimit ?? null,
        budget: row.budget ?? null,
        createdAt: row.createdAt,
        lastUsedAt: row.lastUsedAt,
        revokedAt: row.revokedAt,
      })),
      ...this.envKeys.map((key): ApiKeyView => ({
        id: key.id,
        name: key.id.slice(4),
        prefix: null,
        roles: key.principal.roles,
        models: null,
        rate_limit: null,
        token_limit: null,
        budget: null,
        source: 'environment',
        createdAt: null,
        lastUsedAt: null,
        revokedAt: null,
      })),
    ];
  }

  /** Creates a key with `roles` (the policy's default role when none) and returns it once. */
  async create(
    input: { name: string; roles?: string[]; createdBy?: string } & {
      [K in keyof GatewayGrant]?: GatewayGrant[K] | null;
    },
  ) {
    const grant = checkGatewayGrant(input);
    const roles = input.roles?.length ? input.roles : [this.rbac.defaultRole];
    const unknown = roles.filter((role) => !this.rbac.isKnownRole(role));
    if (unknown.length)
      throw new ValidationFailedError(`roles: unknown role(s) ${unknown.join(', ')}`);
    const created = await this.dataSource.transaction((manager) =>
      insertApiKey(manager, { name: input.name, roles, createdBy: input.createdBy, grant }),
    );
    await this.reload();
    return created;
  }

  /** One key as {@link list} shows it. */
  async get(id: string): Promise<ApiKeyView> {
    const view = (await this.list()).find((key) => key.id === id);
    if (!view) throw new NotFoundError(`No API key with id "${id}"`);
    return view;
  }

  /** Revokes a key on every replica (NOTIFY on commit); revoking twice is harmless. */
  async revoke(id: string): Promise<ApiKeyView> {
    if (id.startsWith('env:'))
      throw new ConflictError(
        'An API key from the environment is revoked by removing its variable and restarting',
      );
    await this.dataSource.transaction(async (manager) => {
      const rows: unknown[] = await manager.query('SELECT 1 FROM api_keys WHERE id = $1', [id]);
      if (!rows.length) throw new NotFoundError(`No API key with id "${id}"`);
      await manager.query(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      await manager.query('SELECT pg_notify($1, $2)', [API_KEYS_CHANNEL, id]);
    });
    await this.reload();
    return this.get(id);
  }

  /** Rebuilds the live map from the database (every replica does on NOTIFY, through the view). */
  reload(): Promise<void> {
    return this.view.reload();
  }

  private async loadLive(): Promise<Map<string, LiveKey>> {
    const rows: Array<
      { id: string; name: string; digest: string; roles: string[] } & {
        [K in keyof GatewayGrant]: GatewayGrant[K] | null;
      }
    > = await this.dataSource.query(
      `SELECT id, name, digest, roles, models, rate_limit, token_limit, budget
         FROM api_keys WHERE revoked_at IS NULL`,
    );
    const live = new Map<string, LiveKey>();
    for (const key of this.envKeys) live.set(key.digest.toString('hex'), key);
    for (const row of rows)
      live.set(
        row.digest,
        liveKey(row.id, row.name, Buffer.from(row.digest, 'hex'), row.roles, row),
      );
    return live;
  }

  /** One UPDATE for every key used since the last flush. */
  async flushLastUsed(): Promise<void> {
    if (!this.lastUsed.size) return;
    const entries = [...this.lastUsed.entries()];
    this.lastUsed.clear();
    try {
      await this.dataSource.query(
        `UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, v.t), v.t)
           FROM unnest($1::text[], $2::timestamptz[]) AS v(id, t) WHERE api_keys.id = v.id`,
        [entries.map(([id]) => id), entries.map(([, t]) => new Date(t).toISOString())],
      );
    } catch (error) {
      this.logger.warn(`Could not record API key use (${(error as Error).message})`);
    }
  }
}

function liveKey(
  id: string,
  name: string,
  digest: Buffer,
  roles: string[],
  grant: { [K in keyof GatewayGrant]?: GatewayGrant[K] | null } = {},
): LiveKey {
  // Built once per key: handlers see a principal like any other, with method "api_key".
  const principal: Principal = Object.freeze({
    subject: id,
    scopes: [],
    roles: [...roles],
    method: 'api_key' as const,
    // The key's gateway narrowing as the same claims a client's tokens carry.
    claims: Object.freeze({ api_key_id: id, api_key_name: name, ...grantClaims(grant) }),
  });
  return { id, digest, principal };
}
