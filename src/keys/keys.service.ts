import { advisoryXactLock } from '../database/advisory-lock';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DataSource, EntityManager } from 'typeorm';
import {
  ConflictError,
  MisconfiguredError,
  NotFoundError,
  ValidationFailedError,
} from '../common/errors';
import { keysConfig } from '../config/configuration';
import { SyncedView, SyncedViews } from '../database/synced-view';
import {
  AsymmetricAlgorithm,
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKeyPair,
  jwkThumbprint,
  keyFitsAlgorithm,
  parsePublicKey,
  publicKeyPem,
  toPublicJwk,
} from './key-crypto';
import { resolveKeyEncryptionKey } from './key-encryption-key';
import { KeyRing, SigningKey, VerificationKey } from './key-ring';
import { MIN_SECRET_LENGTH, sharedSecretKey } from './shared-secret';
import { KeyStatus, SigningKeyEntity } from './signing-key.entity';
import { every, PeriodicJob } from '../common/periodic';
import { MetricsService } from '../metrics/metrics.service';
import { AuditRecord, AuditService } from '../audit/audit.service';
import { Gauge } from 'prom-client';

export type RotationMode = 'soft' | 'hard';

export interface KeySummary {
  kid: string;
  algorithm: string;
  status: KeyStatus;
  imported: boolean;
  createdAt: Date;
  activatedAt: Date | null;
  retiringAt: Date | null;
  retireAfter: Date | null;
  retiredAt: Date | null;
}

/**
 * The keys that verify, by state, as a rotation's audit event records them before and after
 * (fixed member names: a kid is never a details key, so it can never look like a secret's name).
 */
export interface KeyStates {
  active: string | null;
  next: string | null;
  retiring: string[];
}

/** A rotation: the new active key, the states around it and the kids it retired. */
export interface KeyRotation {
  key: KeySummary;
  before: KeyStates;
  after: KeyStates;
  /** Kids that verified before and no longer do (a hard rotation: every older key). */
  retired: string[];
}

/** Who asked for a change, for the events the service records itself (`keys.retire`). */
export type KeyChangeActor = Pick<AuditRecord, 'actor' | 'actorMethod' | 'request'>;

const KEYS_CHANNEL = 'tessera_keys';
const STATUS_ORDER: Record<KeyStatus, number> = { active: 0, next: 1, retiring: 2, retired: 3 };
const KEYS_LOCK = 'tessera:keys';
/** How often the automatic rotation and retirement job looks at the keys. */
const MAINTENANCE_INTERVAL_MS = 60_000;
/** An unknown kid triggers at most one reload per this window (a forged kid cannot flood the DB). */
const UNKNOWN_KID_RELOAD_MS = 5_000;

/**
 * Owns the signing keys: creation, import, soft/hard rotation, retirement, and the in-memory
 * {@link KeyRing} every replica verifies with. Changes are made in one transaction under an
 * advisory lock and announced with NOTIFY, so all replicas reload at once.
 */
@Injectable()
export class KeysService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Keys');
  private ring = KeyRing.empty();
  private kek?: Buffer;
  private job?: PeriodicJob;
  private lastReload = 0;
  private loaded = false;
  private readonly ringListeners: Array<(removedKids: string[]) => void> = [];
  private readonly view: SyncedView<KeyRing>;
  /** The published keys as last loaded, for the key metrics (read at scrape time). */
  private published: Array<{ kid: string; status: KeyStatus; since: Date }> = [];

  constructor(
    @Inject(keysConfig.KEY) private readonly config: ConfigType<typeof keysConfig>,
    @InjectDataSource() private readonly dataSource: DataSource,
    views: SyncedViews,
    metrics: MetricsService,
    private readonly audit: AuditService,
  ) {
    this.view = views.create({
      name: 'keys',
      channel: KEYS_CHANNEL,
      load: () => this.loadRing(),
      loaded: (ring) => this.swapRing(ring),
    });
    registerKeyMetrics(metrics, () => this.published);
  }

  /** HS256 mode: one shared secret, nothing in the database, nothing published. */
  get symmetric(): boolean {
    return this.config.algorithm === 'HS256';
  }

  async onModuleInit(): Promise<void> {
    if (this.symmetric) {
      this.ring = this.symmetricRing();
      this.loaded = true;
      return;
    }
    this.kek = resolveKeyEncryptionKey(this.config.encryptionKey, this.config.dataDir, this.logger);
    await this.ensureSigningKey();
    await this.view.start();
  }

  onApplicationBootstrap(): void {
    if (this.symmetric) return;
    this.job = every(
      MAINTENANCE_INTERVAL_MS,
      () => this.maintain(),
      (e) => this.logger.error(`Key maintenance failed: ${e.message}`),
    );
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  get isReady(): boolean {
    return this.loaded && this.ring.signing !== undefined;
  }

  /** The key that signs new tokens. */
  signingKey(): SigningKey {
    const key = this.ring.signing;
    if (!key) throw new MisconfiguredError('Authentication system misconfigured');
    return key;
  }

  /**
   * Calls `listener` after every key-ring change with the kids that stopped verifying (retired
   * or hard-rotated away), so caches of verified tokens can forget them at once.
   */
  onRingChange(listener: (removedKids: string[]) => void): void {
    this.ringListeners.push(listener);
  }

  /** Hot path: a map lookup, no I/O. */
  verificationKey(kid: string): VerificationKey | undefined {
    return this.ring.verificationKey(kid);
  }

  /**
   * For a kid this replica does not know: reload once (rate-limited) in case another replica
   * has just rotated and its notification is still in flight, then look again.
   */
  async verificationKeyWithRefresh(kid: string): Promise<VerificationKey | undefined> {
    const known = this.ring.verificationKey(kid);
    if (known || this.symmetric) return known;
    if (Date.now() - this.lastReload < UNKNOWN_KID_RELOAD_MS) return undefined;
    await this.reload();
    return this.ring.verificationKey(kid);
  }

  /** The JWKS document (`{keys: [...]}`), cached until the keys change. */
  jwks(): { keys: unknown[] } {
    return this.ring.jwks;
  }

  async list(): Promise<KeySummary[]> {
    this.assertAsymmetric();
    const rows = await this.dataSource
      .getRepository(SigningKeyEntity)
      .find({ order: { createdAt: 'DESC' } });
    return rows.map(summarize);
  }

  /**
   * Soft: the new key signs, older keys keep verifying until their tokens have expired.
   * Hard: every older key is retired at once and its tokens fail immediately.
   */
  async rotate(mode: RotationMode): Promise<KeySummary> {
    return (await this.rotation(mode)).key;
  }

  /**
   * {@link rotate}, saying what it changed: the keys' states before and after, and the kids it
   * retired. With `by` (an admin's request), each retired kid is also its own `keys.retire`
   * event, recorded (and awaited) here, where the retired kids are known.
   */
  async rotation(mode: RotationMode, by?: KeyChangeActor): Promise<KeyRotation> {
    this.assertAsymmetric();
    const rotated = await this.dataSource.transaction(async (manager) => {
      await lock(manager);
      return this.rotateTracked(manager, mode);
    });
    await this.reload();
    this.logger.log(`Rotated signing key (${mode}); new kid ${rotated.key.kid}`);
    if (by)
      await Promise.all(
        rotated.retired.map((kid) =>
          this.audit.record({
            ...by,
            action: 'keys.retire',
            outcome: 'success',
            target: kid,
            details: retiredBy(rotated, kid, mode, false),
          }),
        ),
      );
    return rotated;
  }

  /** One key as {@link list} shows it. */
  async get(kid: string): Promise<KeySummary> {
    this.assertAsymmetric();
    const row = await this.dataSource.getRepository(SigningKeyEntity).findOneBy({ kid });
    if (!row) throw new NotFoundError(`No signing key with kid "${kid}"`);
    return summarize(row);
  }

  /** Retires a non-active key now: tokens it signed stop verifying on every replica (a retired `next` is replaced). */
  async retire(kid: string): Promise<KeySummary> {
    this.assertAsymmetric();
    const retired = await this.dataSource.transaction(async (manager) => {
      await lock(manager);
      const repo = manager.getRepository(SigningKeyEntity);
      const key = await repo.findOneBy({ kid });
      if (!key) throw new NotFoundError(`No signing key with kid "${kid}"`);
      if (key.status === 'active') {
        throw new ConflictError('The active signing key cannot be retired; rotate first');
      }
      if (key.status !== 'retired') {
        key.status = 'retired';
        key.retiredAt = new Date();
        await repo.save(key);
        await notify(manager, kid);
        await this.ensureNextLocked(manager);
      }
      return key;
    });
    await this.reload();
    return summarize(retired);
  }

  /**
   * The scheduled job: retires keys whose tokens have all expired, soft-rotates when the active
   * key is older than KEY_ROTATION_INTERVAL, and keeps a `next` key published. Safe on several
   * replicas at once.
   */
  async maintain(
    now = new Date(),
  ): Promise<{ retired: string[]; rotated?: string; published?: boolean }> {
    if (this.symmetric) return { retired: [] };
    const result = await this.dataSource.transaction(async (manager) => {
      await lock(manager);
      // TypeORM answers an UPDATE … RETURNING on PostgreSQL with [rows, rowCount].
      const [retiredRows] = (await manager.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = $1
          WHERE status = 'retiring' AND retire_after <= $1 RETURNING kid`,
        [now],
      )) as [Array<{ kid: string }>, number];
      const retired = retiredRows.map((r) => r.kid);
      if (retired.length) await notify(manager, retired.join(','));
      const active = await manager.getRepository(SigningKeyEntity).findOneBy({ status: 'active' });
      const since = active?.activatedAt ?? active?.createdAt;
      let rotation: KeyRotation | undefined;
      if (
        active &&
        since &&
        now.getTime() - since.getTime() >= this.config.rotationInterval * 1000
      ) {
        rotation = await this.rotateTracked(manager, 'soft');
      }
      const published = await this.ensureNextLocked(manager);
      return { retired, rotation, published };
    });
    const { retired, rotation, published } = result;
    if (retired.length || rotation || published) {
      await this.reload();
      if (rotation) {
        this.logger.log(`Automatic soft rotation; new kid ${rotation.key.kid}`);
        void this.audit.record({
          action: 'keys.rotate',
          outcome: 'success',
          actor: 'system',
          target: rotation.key.kid,
          details: { mode: 'soft', automatic: true, ...rotationDetails(rotation) },
        });
        for (const kid of rotation.retired)
          void this.audit.record({
            action: 'keys.retire',
            outcome: 'success',
            actor: 'system',
            target: kid,
            details: retiredBy(rotation, kid, 'soft', true),
          });
      }
      if (retired.length) {
        this.logger.log(`Retired keys ${retired.join(', ')}`);
        for (const kid of retired)
          void this.audit.record({
            action: 'keys.retire',
            outcome: 'success',
            actor: 'system',
            target: kid,
            details: {
              automatic: true,
              reason: 'its tokens have expired',
              before: { status: 'retiring' },
              after: { status: 'retired' },
            },
          });
      }
    }
    return { retired, rotated: rotation?.key.kid, published };
  }

  /** Rebuilds the key ring from the database (every replica does on NOTIFY, through the view). */
  async reload(): Promise<void> {
    if (this.symmetric) return;
    this.lastReload = Date.now();
    await this.view.reload();
  }

  private async loadRing(): Promise<KeyRing> {
    const rows = await this.dataSource.getRepository(SigningKeyEntity).find({
      where: [{ status: 'active' }, { status: 'next' }, { status: 'retiring' }],
      order: { createdAt: 'DESC' },
    });
    // The JWKS lists the active key first, then the pre-published next, then retiring ones.
    rows.sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    const verification: VerificationKey[] = [];
    const jwks = [];
    let signing: SigningKey | undefined;
    for (const row of rows) {
      const key = parsePublicKey(row.publicKeyPem);
      verification.push({ kid: row.kid, algorithm: row.algorithm, key });
      jwks.push(toPublicJwk(key, row.kid, row.algorithm));
      if (row.status === 'active') {
        signing = { kid: row.kid, algorithm: row.algorithm, key, privateKey: this.decrypt(row) };
      }
    }
    this.published = rows.map((r) => ({ kid: r.kid, status: r.status, since: r.createdAt }));
    return new KeyRing(signing, verification, jwks);
  }

  private swapRing(ring: KeyRing): void {
    const previous = this.ring.kids;
    this.ring = ring;
    this.loaded = true;
    const removed = previous.filter((kid) => !this.ring.verificationKey(kid));
    for (const listener of this.ringListeners) listener(removed);
  }

  private decrypt(row: SigningKeyEntity) {
    try {
      return decryptPrivateKey(row.privateKeyEncrypted, this.requireKek(), row.kid);
    } catch {
      throw new MisconfiguredError(
        `Cannot decrypt signing key ${row.kid}: KEY_ENCRYPTION_KEY is not the key it was encrypted with`,
      );
    }
  }

  /** At start: import PRIVATE_KEY_PATH if given, create a key on an empty table, follow JWT_ALGORITHM. */
  private async ensureSigningKey(): Promise<void> {
    const imported = this.config.privateKeyPath ? this.readImportedKey() : undefined;
    // What start-up changed, for the audit trail once committed (actor `system`).
    let change: { action: string; kid: string; details: Record<string, unknown> } | undefined;
    await this.dataSource.transaction(async (manager) => {
      await lock(manager);
      const repo = manager.getRepository(SigningKeyEntity);
      const active = await repo.findOneBy({ status: 'active' });
      if (imported) {
        const existing = await repo.findOneBy({ kid: imported.kid });
        if (!existing) {
          await this.demoteActive(manager, 'soft');
          await repo.insert(
            this.newRow(imported.kid, imported.privateKey, imported.publicKey, true),
          );
          await notify(manager, imported.kid);
          change = {
            action: 'keys.import',
            kid: imported.kid,
            details: { source: 'PRIVATE_KEY_PATH', algorithm: this.config.algorithm },
          };
          this.logger.log(
            `Imported signing key ${imported.kid} from ${this.config.privateKeyPath}`,
          );
        }
      } else if (!active) {
        const first = await this.rotateTracked(manager, 'soft');
        change = {
          action: 'keys.rotate',
          kid: first.key.kid,
          details: {
            mode: 'soft',
            automatic: true,
            reason: 'no active signing key (first start)',
            ...rotationDetails(first),
          },
        };
      } else if (active.algorithm !== this.config.algorithm) {
        const reason = `JWT_ALGORITHM changed from ${active.algorithm} to ${this.config.algorithm}`;
        this.logger.log(`${reason}: soft rotation`);
        const rotated = await this.rotateTracked(manager, 'soft');
        change = {
          action: 'keys.rotate',
          kid: rotated.key.kid,
          details: { mode: 'soft', automatic: true, reason, ...rotationDetails(rotated) },
        };
      }
      await this.ensureNextLocked(manager);
    });
    if (change)
      void this.audit.record({
        action: change.action,
        outcome: 'success',
        actor: 'system',
        target: change.kid,
        details: change.details,
      });
  }

  private readImportedKey() {
    const path = this.config.privateKeyPath as string;
    let privateKey;
    try {
      privateKey = createPrivateKey(readFileSync(path));
    } catch (error) {
      throw new MisconfiguredError(
        `PRIVATE_KEY_PATH: cannot read a PEM private key from ${path} (${(error as Error).message})`,
      );
    }
    const publicKey = createPublicKey(privateKey);
    if (this.config.publicKeyPath) {
      let given;
      try {
        given = createPublicKey(readFileSync(this.config.publicKeyPath));
      } catch (error) {
        throw new MisconfiguredError(
          `PUBLIC_KEY_PATH: cannot read a PEM public key (${(error as Error).message})`,
        );
      }
      if (jwkThumbprint(given) !== jwkThumbprint(publicKey)) {
        throw new MisconfiguredError('PUBLIC_KEY_PATH does not match the key in PRIVATE_KEY_PATH');
      }
    }
    if (!keyFitsAlgorithm(publicKey, this.config.algorithm)) {
      throw new MisconfiguredError(
        `PRIVATE_KEY_PATH holds a key that cannot sign ${this.config.algorithm}`,
      );
    }
    return { kid: jwkThumbprint(publicKey), privateKey, publicKey };
  }

  /** {@link rotateLocked} with the keys' states read before and after, in its transaction. */
  private async rotateTracked(manager: EntityManager, mode: RotationMode): Promise<KeyRotation> {
    const before = await keyStates(manager);
    const created = await this.rotateLocked(manager, mode);
    const after = await keyStates(manager);
    const verifying = (states: KeyStates) =>
      [states.active, states.next, ...states.retiring].filter((kid): kid is string => !!kid);
    const still = new Set(verifying(after));
    return {
      key: summarize(created),
      before,
      after,
      retired: verifying(before).filter((kid) => !still.has(kid)),
    };
  }

  /**
   * Soft: the pre-published `next` key (already in every verifier's cached JWKS) becomes active,
   * the active one starts retiring, and a new `next` is published. Hard: every key is retired and
   * a fresh active and next are made.
   */
  private async rotateLocked(
    manager: EntityManager,
    mode: RotationMode,
  ): Promise<SigningKeyEntity> {
    await this.demoteActive(manager, mode);
    const repo = manager.getRepository(SigningKeyEntity);
    let active = mode === 'soft' ? await repo.findOneBy({ status: 'next' }) : null;
    if (active && active.algorithm !== this.config.algorithm) {
      // Published for an algorithm no longer configured; it never signed anything.
      await repo.update({ kid: active.kid }, { status: 'retired', retiredAt: new Date() });
      active = null;
    }
    if (active) {
      active.status = 'active';
      active.activatedAt = new Date();
      await repo.save(active);
    } else {
      active = this.generateRow('active');
      await repo.insert(active);
    }
    await this.ensureNextLocked(manager);
    await notify(manager, active.kid);
    return active;
  }

  /** Publishes a `next` key when there is none (after a start, a hard rotation or a retirement). */
  private async ensureNextLocked(manager: EntityManager): Promise<boolean> {
    const repo = manager.getRepository(SigningKeyEntity);
    if (await repo.existsBy({ status: 'next' })) return false;
    const next = this.generateRow('next');
    await repo.insert(next);
    await notify(manager, next.kid);
    return true;
  }

  private generateRow(status: 'active' | 'next'): SigningKeyEntity {
    const { privateKey, publicKey } = generateSigningKeyPair(
      this.config.algorithm as AsymmetricAlgorithm,
    );
    return this.newRow(jwkThumbprint(publicKey), privateKey, publicKey, false, status);
  }

  private async demoteActive(manager: EntityManager, mode: RotationMode): Promise<void> {
    if (mode === 'hard') {
      await manager.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE status <> 'retired'`,
      );
    } else {
      await manager.query(
        `UPDATE signing_keys SET status = 'retiring', retiring_at = now(),
                retire_after = now() + make_interval(secs => $1)
          WHERE status = 'active'`,
        [this.config.maxTokenLifetime],
      );
    }
  }

  private newRow(
    kid: string,
    privateKey: import('node:crypto').KeyObject,
    publicKey: import('node:crypto').KeyObject,
    imported: boolean,
    status: 'active' | 'next' = 'active',
  ): SigningKeyEntity {
    const now = new Date();
    return Object.assign(new SigningKeyEntity(), {
      kid,
      algorithm: this.config.algorithm,
      status,
      publicKeyPem: publicKeyPem(publicKey),
      privateKeyEncrypted: encryptPrivateKey(privateKey, this.requireKek(), kid),
      imported,
      createdAt: now,
      activatedAt: status === 'active' ? now : null,
      retiringAt: null,
      retireAfter: null,
      retiredAt: null,
    });
  }

  private symmetricRing(): KeyRing {
    const secret = this.config.secretKey;
    if (!secret || secret.length < MIN_SECRET_LENGTH)
      throw new MisconfiguredError('Authentication system misconfigured');
    const key = sharedSecretKey(secret);
    return new KeyRing(key, [{ kid: key.kid, algorithm: 'HS256', key: key.key }], []);
  }

  private requireKek(): Buffer {
    if (!this.kek) throw new MisconfiguredError('Authentication system misconfigured');
    return this.kek;
  }

  private assertAsymmetric(): void {
    if (this.symmetric) {
      throw new ValidationFailedError(
        'Key rotation is not available with JWT_ALGORITHM=HS256 (a shared secret)',
      );
    }
  }
}

async function lock(manager: EntityManager): Promise<void> {
  await advisoryXactLock(manager, KEYS_LOCK);
}

/** Delivered to every replica when (and only if) the transaction commits. */
async function notify(manager: EntityManager, payload: string): Promise<void> {
  await manager.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, payload]);
}

/** The keys that verify (active, next, retiring) by state. */
async function keyStates(manager: EntityManager): Promise<KeyStates> {
  const rows = await manager.getRepository(SigningKeyEntity).find({
    select: { kid: true, status: true },
    where: [{ status: 'active' }, { status: 'next' }, { status: 'retiring' }],
    order: { createdAt: 'ASC' },
  });
  return {
    active: rows.find((r) => r.status === 'active')?.kid ?? null,
    next: rows.find((r) => r.status === 'next')?.kid ?? null,
    retiring: rows.filter((r) => r.status === 'retiring').map((r) => r.kid),
  };
}

/** What a rotation's `keys.rotate` event records: the states around it and the kids it retired. */
export function rotationDetails(rotation: KeyRotation): Record<string, unknown> {
  return { before: rotation.before, after: rotation.after, retired: rotation.retired };
}

/** The `keys.retire` event's details of a kid a rotation retired. */
function retiredBy(
  rotation: KeyRotation,
  kid: string,
  mode: RotationMode,
  automatic: boolean,
): Record<string, unknown> {
  const { before } = rotation;
  const status = before.active === kid ? 'active' : before.next === kid ? 'next' : 'retiring';
  return {
    automatic,
    reason: `${mode} rotation`,
    rotated_to: rotation.key.kid,
    before: { status },
    after: { status: 'retired' },
  };
}

function summarize(row: SigningKeyEntity): KeySummary {
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    status: row.status,
    imported: row.imported,
    createdAt: row.createdAt,
    activatedAt: row.activatedAt,
    retiringAt: row.retiringAt,
    retireAfter: row.retireAfter,
    retiredAt: row.retiredAt,
  };
}

/**
 * `tessera_signing_keys{state}` and `tessera_signing_key_age_seconds{kid,state}` (age since the
 * key was created), read at scrape time from the last loaded ring: alert when the active key is
 * older than KEY_ROTATION_INTERVAL plus a margin (rotation stopped) or no key is active.
 */
function registerKeyMetrics(
  metrics: MetricsService,
  published: () => Array<{ kid: string; status: KeyStatus; since: Date }>,
): void {
  new Gauge({
    name: 'tessera_signing_keys',
    help: 'Published signing keys of this replica, by state (active, next, retiring)',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    aggregator: 'max', // cluster mode: every worker publishes the same ring
    collect() {
      const counts: Record<string, number> = { active: 0, next: 0, retiring: 0 };
      for (const key of published()) counts[key.status] = (counts[key.status] ?? 0) + 1;
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'tessera_signing_key_age_seconds',
    help: 'Age of each published signing key (seconds since it was created), by kid and state',
    labelNames: ['kid', 'state'] as const,
    registers: [metrics.registry],
    aggregator: 'max',
    collect() {
      this.reset();
      const now = Date.now();
      for (const key of published())
        this.set({ kid: key.kid, state: key.status }, (now - key.since.getTime()) / 1000);
    },
  });
}
