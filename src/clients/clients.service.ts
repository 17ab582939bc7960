import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { advisoryXactLock } from '../database/advisory-lock';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { beforeAfter } from '../audit/audit-details';
import { AuditService } from '../audit/audit.service';
import { ConflictError, NotFoundError, OAuthError, ValidationFailedError } from '../common/errors';
import type { RequestInfo } from '../common/request-context';
import type { ClientCredentials } from './client-credentials';
import { BootstrapClient } from '../config/env.validation';
import { clientsConfig } from '../config/configuration';
import { SyncedView, SyncedViews } from '../database/synced-view';
import { RbacService } from '../rbac/rbac.service';
import { checkGatewayGrant, GatewayGrant } from '../config/policy/usage-limits';
import { ClientEntity } from './client.entity';
import { ClientSecretHasher, generateSecret } from './client-secret';
import { MIN_SUPPLIED_SECRET_LENGTH } from '../config/env.validation';
import { RevocationsService } from '../revocation/revocations.service';

export const DEFAULT_CLIENT_SCOPES = ['model:invoke'];
/** NOTIFY channel of the clients table: every write announces the client id it changed. */
export const CLIENTS_CHANNEL = 'tessera_clients';
export const SUPPORTED_CLIENT_GRANTS = ['client_credentials', 'password', 'refresh_token'];

/** Why client authentication failed (Keycloak's event error names). */
export type ClientRefusal = 'client_not_found' | 'invalid_client_credentials' | 'client_disabled';

export interface ClientView {
  id: string;
  name: string | null;
  roles: string[];
  scopes: string[];
  grantTypes: string[];
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Gateway narrowing (null: none); carried as claims by the client's tokens. */
  models: string[] | null;
  rate_limit: string | null;
  token_limit: string | null;
  budget: string | null;
}

export interface CreateClientInput {
  id?: string;
  name?: string;
  secret?: string;
  roles?: string[];
  scopes?: string[];
  grantTypes?: string[];
  models?: string[] | null;
  rate_limit?: string | null;
  token_limit?: string | null;
  budget?: string | null;
}

/**
 * OAuth clients: authentication, bootstrap from the environment, and administration.
 * The token endpoint authenticates against an in-memory view of the clients table, kept in sync
 * on every replica and worker by LISTEN/NOTIFY (each write NOTIFYs in its transaction), so issuing
 * a token costs no database round trip; a disabled or deleted client or a new secret is refused
 * or accepted everywhere as soon as the change commits.
 */
/** Where the bootstrap admin's secret is left when stdout is not a terminal (under DATA_DIR). */
export const BOOTSTRAP_SECRET_FILE = 'bootstrap-admin.secret';

@Injectable()
export class ClientsService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('Clients');
  private byId = new Map<string, ClientEntity>();
  private readonly view: SyncedView<Map<string, ClientEntity>>;

  constructor(
    @InjectRepository(ClientEntity) private readonly clients: Repository<ClientEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(clientsConfig.KEY) private readonly config: ConfigType<typeof clientsConfig>,
    private readonly rbac: RbacService,
    private readonly hasher: ClientSecretHasher,
    private readonly audit: AuditService,
    private readonly revocations: RevocationsService,
    views: SyncedViews,
  ) {
    this.view = views.create({
      name: 'clients',
      channel: CLIENTS_CHANNEL,
      load: async () => new Map((await this.clients.find()).map((c) => [c.id, c])),
      loaded: (byId) => (this.byId = byId),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.view.start();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bootstrap(this.config.bootstrap);
  }

  /**
   * The client whose credentials these are, or `invalid_client` — wherever a client
   * authenticates (the token endpoint, revocation, introspection), the refusal is audited as
   * `client.authenticate` with its reason, in `origin`'s request.
   */
  authenticateOrRefuse(credentials: ClientCredentials, origin?: RequestInfo): ClientView {
    const result = this.check(credentials.clientId, credentials.clientSecret);
    if (typeof result !== 'string') return result;
    void this.audit.record({
      request: origin,
      action: 'client.authenticate',
      outcome: 'failure',
      target: credentials.clientId.slice(0, 200),
      details: { reason: result },
    });
    throw new OAuthError('invalid_client', 'Client authentication failed');
  }

  /**
   * The client when id and secret match, else why not (for the audit trail; the caller gets
   * `invalid_client` whatever the reason): no such client, a wrong secret, or the right secret
   * of a disabled client. Memory only, no query; an unknown id costs the same digest and
   * comparison as a wrong secret, so timing does not reveal which clients exist.
   */
  private check(id: string, secret: string): ClientView | ClientRefusal {
    const client = id.length <= 200 ? this.byId.get(id) : undefined;
    const { match, upgrade } = this.hasher.verify(
      secret,
      client?.secretDigest ?? this.hasher.dummyDigest,
    );
    if (client && upgrade) this.upgradeDigest(client, secret);
    if (!client) return 'client_not_found';
    if (!match) return 'invalid_client_credentials';
    return client.disabled ? 'client_disabled' : view(client);
  }

  /** An unkeyed digest from before the pepper: replaced by the keyed one, once (not awaited). */
  private upgradeDigest(client: ClientEntity, secret: string): void {
    const digest = this.hasher.digest(secret);
    this.write(client.id, (manager) =>
      manager
        .getRepository(ClientEntity)
        .update({ id: client.id, secretDigest: client.secretDigest }, { secretDigest: digest }),
    ).catch((error: Error) =>
      this.logger.warn(`Could not upgrade a secret digest: ${error.message}`),
    );
  }

  async list(): Promise<ClientView[]> {
    return (await this.clients.find({ order: { createdAt: 'ASC' } })).map(view);
  }

  async get(id: string): Promise<ClientView> {
    const client = await this.clients.findOneBy({ id });
    if (!client) throw new NotFoundError(`No client with id "${id}"`);
    return view(client);
  }

  /** Creates a client and returns its secret: the only time the secret is ever shown. */
  async create(input: CreateClientInput): Promise<{ client: ClientView; secret: string }> {
    const id = input.id ?? `client-${generateSecret().slice(0, 12)}`;
    if (await this.clients.existsBy({ id }))
      throw new ConflictError(`A client with id "${id}" already exists`);
    this.checkRoles(input.roles);
    this.checkGrants(input.grantTypes);
    const grant = checkGatewayGrant(input);
    const secret = input.secret ?? generateSecret();
    const entity = this.clients.create({
      id,
      name: input.name ?? null,
      secretDigest: this.hasher.digest(secret),
      roles: input.roles?.length ? input.roles : [this.rbac.defaultRole],
      scopes: input.scopes ?? DEFAULT_CLIENT_SCOPES,
      grantTypes: input.grantTypes ?? ['client_credentials'],
      models: grant.models ?? null,
      rateLimit: grant.rate_limit ?? null,
      tokenLimit: grant.token_limit ?? null,
      budget: grant.budget ?? null,
    });
    await this.write(id, (manager) => manager.getRepository(ClientEntity).insert(entity));
    return { client: view(await this.clients.findOneByOrFail({ id })), secret };
  }

  async update(
    id: string,
    changes: Omit<CreateClientInput, 'id' | 'secret'> & { disabled?: boolean },
  ): Promise<ClientView> {
    const client = await this.clients.findOneBy({ id });
    if (!client) throw new NotFoundError(`No client with id "${id}"`);
    this.checkRoles(changes.roles);
    this.checkGrants(changes.grantTypes);
    if (changes.name !== undefined) client.name = changes.name;
    if (changes.roles !== undefined)
      client.roles = changes.roles.length ? changes.roles : [this.rbac.defaultRole];
    if (changes.scopes !== undefined) client.scopes = changes.scopes;
    if (changes.grantTypes !== undefined) client.grantTypes = changes.grantTypes;
    if (changes.disabled !== undefined) client.disabled = changes.disabled;
    const grant = checkGatewayGrant(changes);
    if (changes.models !== undefined) client.models = grant.models ?? null;
    if (changes.rate_limit !== undefined) client.rateLimit = grant.rate_limit ?? null;
    if (changes.token_limit !== undefined) client.tokenLimit = grant.token_limit ?? null;
    if (changes.budget !== undefined) client.budget = grant.budget ?? null;
    client.updatedAt = new Date();
    const save = (manager: EntityManager) => manager.getRepository(ClientEntity).save(client);
    // A disabled client's tokens stop working too, on every replica (as POST /revoke
    // {client_id}), in the same transaction as the change; enabling it again does not bring them
    // back. Asked again (a retry after a failure), it revokes again: harmless.
    if (changes.disabled === true) await this.writeRevoking(id, 'client disabled', save);
    else await this.write(id, save);
    return view(client);
  }

  /** A new secret replaces the old one at once; returned once. */
  async resetSecret(id: string): Promise<{ client: ClientView; secret: string }> {
    const client = await this.clients.findOneBy({ id });
    if (!client) throw new NotFoundError(`No client with id "${id}"`);
    const secret = generateSecret();
    client.secretDigest = this.hasher.digest(secret);
    client.updatedAt = new Date();
    await this.write(id, (manager) => manager.getRepository(ClientEntity).save(client));
    return { client: view(client), secret };
  }

  async remove(id: string): Promise<void> {
    // Deleted and revoked in one transaction: apart, a failure or a crash between the two left the
    // client's tokens working, and a retry found no client (404) and revoked nothing.
    await this.writeRevoking(id, 'client deleted', async (manager) => {
      const result = await manager.getRepository(ClientEntity).delete({ id });
      if (!result.affected) throw new NotFoundError(`No client with id "${id}"`);
    });
  }

  /**
   * Runs a write and NOTIFYs the change in the same transaction (delivered on commit only), then
   * reloads this process's view so the writer reads its own change at once.
   */
  private async write<T>(id: string, change: (manager: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.dataSource.transaction(async (manager) => {
      const done = await change(manager);
      await notifyChange(manager, id);
      return done;
    });
    await this.view.reload();
    return result;
  }

  /**
   * {@link write}, and every token issued to the client up to now revoked in the same transaction
   * (committed together or not at all).
   */
  private async writeRevoking(
    id: string,
    reason: string,
    change: (manager: EntityManager) => Promise<unknown>,
  ): Promise<void> {
    await this.revocations.revokeClient(id, reason, async (manager) => {
      await change(manager);
      await notifyChange(manager, id);
    });
    await this.view.reload();
  }

  /**
   * Idempotent start-up sync of AUTH_CLIENT_ID/SECRET and AUTH_CLIENTS_JSON: creates missing
   * clients, updates a changed secret (and roles/scopes when given). Then, if no client holds
   * the admin role, creates `admin` and prints its secret once, like Keycloak's bootstrap admin.
   */
  async bootstrap(clients: BootstrapClient[]): Promise<void> {
    // What start-up changed, for the audit trail once committed (actor `system`; never a secret).
    const changes: Array<{ action: string; id: string; details: Record<string, unknown> }> = [];
    const adminSecret = await this.dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, 'tessera:clients-bootstrap');
      const repo = manager.getRepository(ClientEntity);
      let changedAny = false;
      for (const wanted of clients) {
        if (wanted.secret.length < MIN_SUPPLIED_SECRET_LENGTH)
          // (Production refused this at start.) The prototype's `super-secret-local` still works.
          this.logger.warn(
            `Client "${wanted.id}" has a ${wanted.secret.length}-character secret; production requires at least ${MIN_SUPPLIED_SECRET_LENGTH}`,
          );
        const existing = await repo.findOneBy({ id: wanted.id });
        // Unchanged secret: keep the stored digest (an unkeyed one is upgraded here).
        const known = existing
          ? this.hasher.verify(wanted.secret, existing.secretDigest)
          : undefined;
        const digest =
          existing && known?.match && !known.upgrade
            ? existing.secretDigest
            : this.hasher.digest(wanted.secret);
        if (!existing) {
          await repo.insert(
            repo.create({
              id: wanted.id,
              secretDigest: digest,
              roles: wanted.roles?.length ? wanted.roles : [this.rbac.defaultRole],
              scopes: wanted.scopes ?? DEFAULT_CLIENT_SCOPES,
              grantTypes: ['client_credentials'],
              ...grantColumns(wanted.grant ?? {}),
            }),
          );
          changedAny = true;
          const created = await repo.findOneByOrFail({ id: wanted.id });
          changes.push({
            action: 'client.create',
            id: wanted.id,
            details: { source: 'environment', roles: created.roles, after: view(created) },
          });
          this.logger.log(`Created client "${wanted.id}" from the environment`);
          continue;
        }
        // The gateway fields, when the environment gives any, are the whole grant: one removed
        // from AUTH_CLIENTS_JSON is removed from the client.
        const grant = wanted.grant && grantColumns(wanted.grant);
        const changed =
          existing.secretDigest !== digest ||
          (wanted.roles !== undefined && !sameList(existing.roles, wanted.roles)) ||
          (wanted.scopes !== undefined && !sameList(existing.scopes, wanted.scopes)) ||
          (grant !== undefined && !sameGrant(existing, grant));
        if (changed) {
          const rekeyed = existing.secretDigest !== digest;
          const before = view(existing);
          existing.secretDigest = digest;
          if (wanted.roles !== undefined)
            existing.roles = wanted.roles.length ? wanted.roles : [this.rbac.defaultRole];
          if (wanted.scopes !== undefined) existing.scopes = wanted.scopes;
          if (grant) Object.assign(existing, grant);
          existing.updatedAt = new Date();
          await repo.save(existing);
          changedAny = true;
          // As an admin's update: the non-secret fields that changed, before and after (a new
          // secret is `rekeyed`, never the secret or its digest).
          const diff = beforeAfter(before, view(existing));
          changes.push({
            action: 'client.update',
            id: wanted.id,
            details: {
              source: 'environment',
              roles: existing.roles,
              rekeyed,
              ...diff,
              changed: [...Object.keys(diff.after ?? {}), ...(rekeyed ? ['secret'] : [])],
            },
          });
          this.logger.log(`Updated client "${wanted.id}" from the environment`);
        }
      }
      const [{ count }] = await manager.query(
        `SELECT count(*)::int AS count FROM clients WHERE 'admin' = ANY(roles)`,
      );
      let secret: string | undefined;
      if (count === 0 && !(await repo.existsBy({ id: 'admin' }))) {
        secret = generateSecret();
        await repo.insert(
          repo.create({
            id: 'admin',
            name: 'Bootstrap administrator',
            secretDigest: this.hasher.digest(secret),
            roles: ['admin'],
            scopes: DEFAULT_CLIENT_SCOPES,
          }),
        );
        changedAny = true;
        changes.push({
          action: 'client.create',
          id: 'admin',
          details: { source: 'bootstrap', roles: ['admin'] },
        });
      }
      // Other replicas reload on commit; this one reloads below.
      if (changedAny) await notifyChange(manager, '*');
      return secret;
    });
    await this.view.reload();
    for (const change of changes)
      void this.audit.record({
        action: change.action,
        outcome: 'success',
        actor: 'system',
        actorMethod: 'startup',
        target: change.id,
        details: change.details,
      });
    if (adminSecret) this.handOver(adminSecret);
  }

  /**
   * The bootstrap admin's secret, once, after its client is committed — never in a log line. At a
   * terminal (`npm start`) it is shown on it, like Keycloak's bootstrap admin; where stdout is
   * collected as logs (a container, a service manager) it goes to `DATA_DIR/bootstrap-admin.secret`
   * (mode 0600), like Jenkins' initialAdminPassword, and the log names the file.
   */
  private handOver(secret: string): void {
    if (process.stdout.isTTY) {
      process.stdout.write(
        '\n  Tessera created a bootstrap admin client (shown only this once):\n' +
          `    client_id:     admin\n    client_secret: ${secret}\n\n`,
      );
      return;
    }
    const file = join(this.config.dataDir, BOOTSTRAP_SECRET_FILE);
    try {
      mkdirSync(this.config.dataDir, { recursive: true });
      writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      this.logger.warn(
        `Created the bootstrap admin client "admin"; its secret is in ${file} (read it, then delete the file)`,
      );
    } catch (error) {
      this.logger.error(
        `Created the bootstrap admin client "admin" but could not write its secret to ${file} (${(error as Error).message}); create another admin client with \`tessera clients create --roles admin\``,
      );
    }
  }

  private checkRoles(roles?: string[]): void {
    const unknown = (roles ?? []).filter((role) => !this.rbac.isKnownRole(role));
    if (unknown.length)
      throw new ValidationFailedError(`roles: unknown role(s) ${unknown.join(', ')}`);
  }

  private checkGrants(grants?: string[]): void {
    const unknown = (grants ?? []).filter((g) => !SUPPORTED_CLIENT_GRANTS.includes(g));
    if (unknown.length)
      throw new ValidationFailedError(
        `grantTypes: unsupported grant type(s) ${unknown.join(', ')}`,
      );
  }
}

function notifyChange(manager: EntityManager, id: string): Promise<unknown> {
  return manager.query('SELECT pg_notify($1, $2)', [CLIENTS_CHANNEL, id.slice(0, 200)]);
}

type GrantColumns = Pick<ClientEntity, 'models' | 'rateLimit' | 'tokenLimit' | 'budget'>;

/** A checked grant (see checkGatewayGrant) as the client's columns; absent members are null. */
function grantColumns(grant: GatewayGrant): GrantColumns {
  return {
    models: grant.models ?? null,
    rateLimit: grant.rate_limit ?? null,
    tokenLimit: grant.token_limit ?? null,
    budget: grant.budget ?? null,
  };
}

function sameGrant(client: ClientEntity, grant: GrantColumns): boolean {
  return (
    (client.models === null || grant.models === null
      ? client.models === grant.models
      : sameList(client.models, grant.models)) &&
    client.rateLimit === grant.rateLimit &&
    client.tokenLimit === grant.tokenLimit &&
    client.budget === grant.budget
  );
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function view(client: ClientEntity): ClientView {
  return {
    id: client.id,
    name: client.name,
    roles: client.roles,
    scopes: client.scopes,
    grantTypes: client.grantTypes,
    disabled: client.disabled,
    createdAt: client.createdAt,
    updatedAt: client.updatedAt,
    models: client.models ?? null,
    rate_limit: client.rateLimit ?? null,
    token_limit: client.tokenLimit ?? null,
    budget: client.budget ?? null,
  };
}
