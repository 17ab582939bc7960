import { Logger } from '@nestjs/common';
import { redactDatabaseMessage } from '../common/database-errors';
import { SafeTypeOrmLogger } from './safe-typeorm-logger';

describe('SafeTypeOrmLogger', () => {
  it('logs a failed query’s text and message, never its parameters', () => {
    const lines: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const sut = new SafeTypeOrmLogger();
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA';
    sut.logQueryError(
      new Error('invalid byte sequence for encoding "UTF8": 0x00'),
      'INSERT INTO users VALUES ($1, $2)',
      ['a@b.c', hash],
    );
    spy.mockRestore();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('INSERT INTO users VALUES ($1, $2)');
    expect(lines[0]).not.toContain(hash);
    expect(lines[0]).not.toContain('a@b.c');
  });
});

describe('redactDatabaseMessage', () => {
  it('removes the input PostgreSQL quotes back, and key values of a detail', () => {
    expect(redactDatabaseMessage('invalid input syntax for type uuid: "sk-secret"')).toBe(
      'invalid input syntax for type uuid: [redacted]',
    );
    expect(redactDatabaseMessage('Key (email)=(a@b.c) already exists.')).toBe(
      'Key (email)=([redacted]) already exists.',
    );
    expect(redactDatabaseMessage('duplicate key value violates unique constraint "uq_email"')).toBe(
      'duplicate key value violates unique constraint "uq_email"',
    );
  });
});
