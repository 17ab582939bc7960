import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKeyEncryptionKey } from '../config/env.validation';

const DEV_KEY_FILE = 'key-encryption.key';

/**
 * KEY_ENCRYPTION_KEY when set; otherwise (development only: production refuses at config
 * validation) a key generated once into DATA_DIR, with a warning every start.
 */
export function resolveKeyEncryptionKey(
  configured: Buffer | undefined,
  dataDir: string,
  logger: Logger,
): Buffer {
  if (configured) return configured;
  const file = join(dataDir, DEV_KEY_FILE);
  const key = developmentKeyEncryptionKey(dataDir);
  logger.warn(
    `KEY_ENCRYPTION_KEY is unset: private keys are encrypted with a development key in ${file}. ` +
      'Set KEY_ENCRYPTION_KEY (openssl rand -base64 32) in production.',
  );
  return key;
}

/** The development key in DATA_DIR, generated on first use (no warning: callers warn). */
export function developmentKeyEncryptionKey(dataDir: string): Buffer {
  const file = join(dataDir, DEV_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (error) {
      // Another process (the keys module, a CLI command) wrote it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return parseKeyEncryptionKey(readFileSync(file, 'utf8').trim(), `the key in ${file}`);
}
