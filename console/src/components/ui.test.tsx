import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { age, Confirm, ErrorBox, SecretReveal } from './ui';
import { ApiError } from '../api';

describe('Confirm', () => {
  it('keeps a typed confirmation disabled until the word is typed', async () => {
    const onConfirm = vi.fn(async () => undefined);
    render(
      <Confirm
        title="Hard rotation"
        open
        onClose={() => undefined}
        onConfirm={onConfirm}
        confirmLabel="Rotate hard"
        typeToConfirm="hard"
      >
        <p>Every token stops working.</p>
      </Confirm>,
    );
    const button = screen.getByRole('button', { name: 'Rotate hard' });
    expect(button).toHaveProperty('disabled', true);
    fireEvent.change(screen.getByLabelText('Type "hard" to confirm'), {
      target: { value: 'hard' },
    });
    expect(button).toHaveProperty('disabled', false);
    fireEvent.click(button);
    await waitFor(() => expect(onConfirm).toHaveBeenCalledTimes(1));
  });

  it('shows the API detail when the action fails', async () => {
    render(
      <Confirm
        title="Delete"
        open
        onClose={() => undefined}
        onConfirm={async () => {
          throw new ApiError(409, 'The default role cannot be deleted', 'conflict');
        }}
        confirmLabel="Delete"
      >
        <p>Sure?</p>
      </Confirm>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    expect((await screen.findByRole('alert')).textContent).toContain(
      'The default role cannot be deleted',
    );
  });
});

describe('SecretReveal', () => {
  it('copies the secret to the clipboard', async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(<SecretReveal label="Secret" secret="s3cr3t-value" onDone={() => undefined} />);
    expect(screen.getByText('This is shown only once.')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    await screen.findByText('Copied to the clipboard.');
    expect(writeText).toHaveBeenCalledWith('s3cr3t-value');
  });
});

describe('ErrorBox', () => {
  it('announces the status, code and detail', () => {
    render(
      <ErrorBox
        error={new ApiError(403, 'Insufficient permissions', 'insufficient_permissions')}
      />,
    );
    expect(screen.getByRole('alert').textContent).toBe(
      'Error (403 insufficient_permissions): Insufficient permissions',
    );
  });
});

describe('age', () => {
  it('says how long ago, in the largest whole unit', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(age('2026-11-25T11:59:30Z', now)).toBe('30 s');
    expect(age('2026-11-25T09:00:00Z', now)).toBe('3 h');
    expect(age('2026-11-20T12:00:00Z', now)).toBe('5 d');
  });
});
