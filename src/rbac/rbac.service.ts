import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { advisoryXactLock } from '../database/advisory-lock';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationFailedError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import { MODEL_GLOB } from '../config/policy/usage-limits';
import { SyncedView, SyncedViews } from '../database/synced-view';
import { grantsAll } from './permission-matcher';
import { RoleEntity } from './role.entity';

export { KNOWN_PERMISSIONS } from './known-permissions';

export interface RoleView {
  name: string;
  permissions: string[];
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const ROLES_CHANNEL = 'tessera_roles';
const ROLES_LOCK = 'tessera:roles';
const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** `*`, `prefix:*` or a plain name such as `tokens:revoke`. */
const PERMISSION = /^(\*|[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*(:\*)?)$/;
/** `invoke:<model id or glob>` (ModelAccess): model names have characters other names do not. */
const INVOKE = 'invoke:';

/**
 * Roles → permissions. The policy file seeds the `roles` table at start (missing roles only, so
 * changes made at run time survive restarts); `/admin/roles` changes it, and a NOTIFY makes
 * every replica reload. Requests read a compiled in-memory view: no query per request.
 */
@Injectable()
export class RbacService implements OnModuleInit {
  private readonly logger = new Logger('Rbac');
  private roles = new Map<string, string[]>();
  private cache = new Map<string, ReadonlySet<string>>();
  private readonly view: SyncedView<RoleEntity[]>;
  readonly defaultRole: string;

  constructor(
    @Inject(policyConfig.KEY) private readonly policy: ConfigType<typeof policyConfig>,
    @InjectDataSource() private readonly dataSource: DataSource,
    views: SyncedViews,
  ) {
    // Until the database view loads, the file's roles apply (nothing is served before that).
    this.compile(policy.roles.map((r) => ({ name: r.name, permissions: r.permissions })));
    this.defaultRole = policy.defaultRole;
    this.view = views.create({
      name: 'roles',
      channel: ROLES_CHANNEL,
      load: () => this.dataSource.getRepository(RoleEntity).find(),
      loaded: (rows) => this.compile(rows),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.seed();
    await this.view.start();
  }

  roleNames(): string[] {
    return [...this.roles.keys()];
  }

  isKnownRole(role: string): boolean {
    return this.roles.has(role);
  }

  /** The union of the permissions of `roles`; unknown roles grant nothing. */
  permissionsFor(roles: readonly string[]): ReadonlySet<string> {
    const key = roles.join('\u0000');
    let permissions = this.cache.get(key);
    if (!permissions) {
      permissions = new Set(roles.flatMap((role) => this.roles.get(role) ?? []));
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, permissions);
    }
    return permissions;
  }

  allows(roles: readonly string[], required: readonly string[]): boolean {
    return grantsAll(this.permissionsFor(roles), required);
  }

  /** Every role with its permissions, from the database. */
  async list(): Promise<RoleView[]> {
    const rows = await this.dataSource.getRepository(RoleEntity).find({ order: { name: 'ASC' } });
    return rows.map(view);
  }

  async get(name: string): Promise<RoleView> {
    const row = await this.dataSource.getRepository(RoleEntity).findOneBy({ name });
    if (!row) throw new NotFoundError(`No role named "${name}"`);
    return view(row);
  }

  /** Creates a role; every replica grants it as soon as the transaction commits. */
  async create(input: {
    name: string;
    permissions: string[];
    description?: string;
  }): Promise<RoleView> {
    if (!ROLE_NAME.test(input.name))
      throw new ValidationFailedError('name: letters, digits, _ . : - (at most 64)');
    checkPermissions(input.permissions);
    const row = await this.change(async (repo) => {
      if (await repo.existsBy({ name: input.name }))
        throw new ConflictError(`A role named "${input.name}" already exists`);
      const entity = repo.create({
        name: input.name,
        permissions: input.permissions,
        description: input.description ?? null,
      });
      await repo.insert(entity);
      return repo.findOneByOrFail({ name: input.name });
    });
    return view(row);
  }

  /** Replaces a role's permissions (and description when given). */
  async update(
    name: string,
    changes: { permissions?: string[]; description?: string },
  ): Promise<RoleView> {
    if (changes.permissions) checkPermissions(changes.permissions);
    const row = await this.change(async (repo) => {
      const role = await repo.findOneBy({ name });
      if (!role) throw new NotFoundError(`No role named "${name}"`);
      if (changes.permissions) role.permissions = changes.permissions;
      if (changes.description !== undefined) role.description = changes.description;
      role.updatedAt = new Date();
      await repo.save(role);
      return role;
    });
    return view(row);
  }

  /**
   * Deletes a role. The default role and the roles of environment API keys cannot go (they are
   * named by the policy file); principals still holding a deleted role simply gain nothing from it.
   */
  async remove(name: string): Promise<void> {
    if (name === this.defaultRole)
      throw new ConflictError(`"${name}" is the policy's default_role and cannot be deleted`);
    if (this.policy.apiKeys.envRoles.includes(name))
      throw new ConflictError(`"${name}" is named by api_keys.env_roles and cannot be deleted`);
    await this.change(async (repo) => {
      const result = await repo.delete({ name });
      if (!result.affected) throw new NotFoundError(`No role named "${name}"`);
    });
  }

  /** Rebuilds the compiled view from the database (every replica, on NOTIFY). */
  reload(): Promise<void> {
    return this.view.reload();
  }

  private compile(rows: Array<{ name: string; permissions: string[] }>): void {
    // Replaced whole, so a request never sees half a change.
    this.roles = new Map(rows.map((r) => [r.name, r.permissions]));
    this.cache = new Map();
  }

  /** Idempotent: inserts the file's roles that the table does not have yet. */
  private async seed(): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, ROLES_LOCK);
      for (const role of this.policy.roles) {
        const inserted: unknown[] = await manager.query(
          `INSERT INTO roles (name, permissions, description) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO NOTHING RETURNING name`,
          [role.name, role.permissions, `from ${this.policy.source}`],
        );
        if (inserted.length) await manager.query('SELECT pg_notify($1, $2)', [ROLES_CHANNEL, '']);
      }
    });
  }

  private async change<T>(work: (repo: Repository<RoleEntity>) => Promise<T>): Promise<T> {
    const result = await this.dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, ROLES_LOCK);
      const out = await work(manager.getRepository(RoleEntity));
      // Delivered to every replica when (and only if) the transaction commits.
      await manager.query('SELECT pg_notify($1, $2)', [ROLES_CHANNEL, '']);
      return out;
    });
    await this.reload();
    return result;
  }
}

function checkPermissions(permissions: string[]): void {
  const bad = permissions.filter(
    (p) =>
      !PERMISSION.test(p) && !(p.startsWith(INVOKE) && MODEL_GLOB.test(p.slice(INVOKE.length))),
  );
  if (bad.length)
    throw new ValidationFailedError(
      `permissions: invalid permission name(s) ${bad.join(', ')} (use names like invoke, invoke:llama-*, tokens:revoke, tokens:*, *)`,
    );
}

function view(row: RoleEntity): RoleView {
  return {
    name: row.name,
    permissions: row.permissions,
    description: row.description,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
