import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { QueryFailedError, Repository } from 'typeorm';
import { callerOf, type RequestInfo } from '../common/request-context';
import { AuditService } from '../audit/audit.service';
import {
  ConflictError,
  NotFoundError,
  RateLimitedError,
  ValidationFailedError,
} from '../common/errors';
import { RbacService } from '../rbac/rbac.service';
import { RevocationsService } from '../revocation/revocations.service';
import { Lockout, LockoutScope, LoginThrottle } from './login-throttle';
import { dummyHash, hashPassword, verifyPassword } from './password-hasher';
import { UserEntity } from './user.entity';

export interface UserView {
  oid: string;
  email: string;
  name: string | null;
  roles: string[];
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateUserInput {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
}

export interface UpdateUserInput {
  email?: string;
  name?: string;
  password?: string;
  roles?: string[];
  disabled?: boolean;
}

/** One password login attempt, as the audit trail will record it. */
export interface LoginAttempt {
  email: string;
  /** The request the attempt came in (address, user agent, request id). */
  origin?: RequestInfo;
  outcome: 'success' | 'invalid_credentials' | 'locked_out';
  /**
   * Why `invalid_credentials`, for the audit trail only: the caller is answered the same for all
   * three (no user enumeration), as a refused client is (`client.authenticate`).
   */
  reason?: 'unknown_user' | 'wrong_password' | 'user_disabled';
  oid?: string;
  /** `locked_out`: the lockout that refused the attempt (account or address, seconds left). */
  lockout?: Lockout;
  /** `invalid_credentials`: the lockouts this failure started, and for how long. */
  lockoutStarted?: LockoutScope[];
}

export const MIN_PASSWORD_LENGTH = 8;
/** argon2 hashes any length; a cap stops megabyte "passwords" from costing memory and time. */
export const MAX_PASSWORD_LENGTH = 1024;

/** People: accounts with email and password (argon2id), roles, and a disabled flag. */
@Injectable()
export class UsersService {
  private readonly logger = new Logger('Users');

  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly throttle: LoginThrottle,
    private readonly rbac: RbacService,
    private readonly revocations: RevocationsService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Checks an email and password. Returns the user, or undefined for an unknown email, a wrong
   * password or a disabled account — the caller answers all three the same way. An unknown email
   * is verified against a dummy argon2id hash so all three take the same time. Throws
   * {@link RateLimitedError} while the account or the address is locked out (recorded with the
   * lock that refused it; the failure that starts a lock records that too).
   */
  async verifyCredentials(
    email: string,
    password: string,
    origin?: RequestInfo,
  ): Promise<UserView | undefined> {
    const ip = origin?.ip;
    const lockout = await this.throttle.lockoutOf(email, ip);
    if (lockout) {
      this.recordAttempt({ email, origin, outcome: 'locked_out', lockout });
      throw new RateLimitedError(lockout.seconds, undefined, 'login');
    }
    const user = await this.findByEmail(email);
    const matches = await verifyPassword(user?.passwordHash ?? (await dummyHash()), password);
    if (!user || !matches || user.disabled) {
      const lockoutStarted = await this.throttle.recordFailure(email, ip);
      this.recordAttempt({
        email,
        origin,
        outcome: 'invalid_credentials',
        reason: !user ? 'unknown_user' : !matches ? 'wrong_password' : 'user_disabled',
        lockoutStarted,
      });
      return undefined;
    }
    await this.throttle.recordSuccess(email);
    this.recordAttempt({ email, origin, outcome: 'success', oid: user.oid });
    return view(user);
  }

  /**
   * Every login attempt passes through here exactly once, into the audit trail (`user.login`;
   * never the password, never a token).
   */
  recordAttempt(attempt: LoginAttempt): void {
    this.logger.debug(
      `login ${attempt.outcome} for ${attempt.email} from ${attempt.origin?.ip ?? '?'}`,
    );
    void this.audit.record({
      action: 'user.login',
      outcome: attempt.outcome === 'success' ? 'success' : 'failure',
      actor: attempt.oid,
      actorMethod: 'password',
      target: attempt.email,
      request: attempt.origin,
      // Through a client (the password grant): which one.
      details: {
        result: attempt.outcome,
        reason: attempt.reason,
        client: callerOf(attempt.origin ?? {})?.clientId,
        // The lockout decision itself: which lock this failure started (for LOGIN_LOCKOUT), or
        // which lock refused this attempt and for how much longer.
        ...(attempt.lockoutStarted?.length
          ? {
              lockout_started: attempt.lockoutStarted,
              lockout_seconds: this.throttle.lockoutSeconds,
            }
          : {}),
        ...(attempt.lockout
          ? { locked: attempt.lockout.scope, retry_after: attempt.lockout.seconds }
          : {}),
      },
    });
  }

  /**
   * The user if it exists and is not disabled: for grants that act for a user later (the
   * refresh_token grant should ask this before minting, and take the roles from here).
   */
  async findActive(oid: string): Promise<UserView | undefined> {
    const user = UUID.test(oid) ? await this.users.findOneBy({ oid }) : null;
    return user && !user.disabled ? view(user) : undefined;
  }

  async list(): Promise<UserView[]> {
    return (await this.users.find({ order: { createdAt: 'ASC' } })).map(view);
  }

  async get(oid: string): Promise<UserView> {
    return view(await this.load(oid));
  }

  /** Creates a user with a new `oid`; the email must be unused, ignoring case. */
  async create(input: CreateUserInput): Promise<UserView> {
    this.checkRoles(input.roles);
    checkPassword(input.password);
    const email = normalizeEmail(input.email);
    if (await this.findByEmail(email))
      throw new ConflictError(`A user with email "${email}" already exists`);
    const entity = this.users.create({
      oid: randomUUID(),
      email,
      name: input.name ?? null,
      passwordHash: await hashPassword(input.password),
      roles: input.roles?.length ? input.roles : [this.rbac.defaultRole],
    });
    await this.save(() => this.users.insert(entity), email);
    return view(await this.load(entity.oid));
  }

  async update(oid: string, changes: UpdateUserInput): Promise<UserView> {
    const user = await this.load(oid);
    this.checkRoles(changes.roles);
    if (changes.email !== undefined) {
      const email = normalizeEmail(changes.email);
      const other = await this.findByEmail(email);
      if (other && other.oid !== oid)
        throw new ConflictError(`A user with email "${email}" already exists`);
      user.email = email;
    }
    if (changes.password !== undefined) {
      checkPassword(changes.password);
      user.passwordHash = await hashPassword(changes.password);
    }
    if (changes.name !== undefined) user.name = changes.name;
    if (changes.roles !== undefined)
      user.roles = changes.roles.length ? changes.roles : [this.rbac.defaultRole];
    const disabling = changes.disabled === true && !user.disabled;
    if (changes.disabled !== undefined) user.disabled = changes.disabled;
    user.updatedAt = new Date();
    // A disabled account or a changed password ends every session: none of the user's tokens
    // survives, access tokens included (revoked before now, on every replica), nor any refresh
    // token (the revocation's cascade). The change and the revocation are one transaction: saved
    // apart, a failed or interrupted revocation left the account disabled with its tokens
    // working, and a retry (the account already disabled) revoked nothing.
    if (disabling || changes.password !== undefined)
      await this.revocations.revokeSubject(
        oid,
        disabling ? 'user disabled' : 'password changed',
        (manager) => this.save(() => manager.getRepository(UserEntity).save(user), user.email),
      );
    else await this.save(() => this.users.save(user), user.email);
    return view(user);
  }

  async remove(oid: string): Promise<void> {
    checkOid(oid);
    // Deleted and revoked in one transaction: apart, a retry after a failed revocation found no
    // user (404) and revoked nothing.
    await this.revocations.revokeSubject(oid, 'user deleted', async (manager) => {
      const result = await manager.getRepository(UserEntity).delete({ oid });
      if (!result.affected) throw new NotFoundError(`No user with oid "${oid}"`);
    });
  }

  private findByEmail(email: string): Promise<UserEntity | null> {
    return this.users
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email: email.trim() })
      .getOne();
  }

  private async load(oid: string): Promise<UserEntity> {
    const user = await this.users.findOneBy({ oid: checkOid(oid) });
    if (!user) throw new NotFoundError(`No user with oid "${oid}"`);
    return user;
  }

  /** Two concurrent creations of one email: the unique index decides, answered as 409. */
  private async save(write: () => Promise<unknown>, email: string): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (error instanceof QueryFailedError && (error as { code?: string }).code === '23505')
        throw new ConflictError(`A user with email "${email}" already exists`);
      throw error;
    }
  }

  private checkRoles(roles?: string[]): void {
    const unknown = (roles ?? []).filter((role) => !this.rbac.isKnownRole(role));
    if (unknown.length)
      throw new ValidationFailedError(`roles: unknown role(s) ${unknown.join(', ')}`);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function normalizeEmail(email: string): string {
  const trimmed = email.trim();
  if (!EMAIL.test(trimmed) || trimmed.length > 320)
    throw new ValidationFailedError('email must be an email address');
  return trimmed;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH)
    throw new ValidationFailedError(
      `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
    );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed oid is simply not found (PostgreSQL would otherwise reject the cast with a 500). */
function checkOid(oid: string): string {
  if (!UUID.test(oid)) throw new NotFoundError(`No user with oid "${oid}"`);
  return oid;
}

function view(user: UserEntity): UserView {
  return {
    oid: user.oid,
    email: user.email,
    name: user.name,
    roles: user.roles,
    disabled: user.disabled,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}
