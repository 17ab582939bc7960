import { ReactNode, useEffect, useId, useRef, useState } from 'react';
import { ApiError } from '../api';

/** An API error with its `detail`, announced to screen readers. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const detail =
    error instanceof ApiError
      ? error.detail
      : error instanceof Error
        ? error.message
        : String(error);
  const status =
    error instanceof ApiError ? ` (${error.status}${error.code ? ` ${error.code}` : ''})` : '';
  return (
    <div className="error" role="alert">
      <strong>Error{status}:</strong> {detail}
    </div>
  );
}

/** Shown where the server has no such endpoint (a 404 for the route itself). */
/** A form dialog's last lines: its error, Cancel, and the submit button (disabled while busy). */
export function FormActions({
  error,
  onCancel,
  submit,
  busy = false,
}: {
  error: unknown;
  onCancel: () => void;
  submit: string;
  busy?: boolean;
}) {
  return (
    <>
      <ErrorBox error={error} />
      <div className="actions">
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {submit}
        </button>
      </div>
    </>
  );
}

export function Unavailable({ what }: { what: string }) {
  return (
    <div className="notice" role="status">
      {what} is not available on this server.
    </div>
  );
}

export function NoPermission({ permission }: { permission: string }) {
  return (
    <div className="notice" role="status">
      Your roles do not grant <code>{permission}</code>, which this page needs.
    </div>
  );
}

export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: string;
  children: (id: string, describedBy?: string) => ReactNode;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, hintId)}
      {hint && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export function TextField({
  label,
  value,
  onChange,
  hint,
  type = 'text',
  required,
  placeholder,
  autoComplete,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  hint?: string;
  type?: string;
  required?: boolean;
  placeholder?: string;
  autoComplete?: string;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id, describedBy) => (
        <input
          id={id}
          type={type}
          value={value}
          required={required}
          placeholder={placeholder}
          autoComplete={autoComplete ?? 'off'}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

/** A list typed as "a, b c": commas or spaces separate. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A modal dialog on the native `<dialog>`: focus moves in and is trapped by the browser, Escape
 * closes it, and focus returns to what opened it.
 */
export function Dialog({
  title,
  open,
  onClose,
  children,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', '');
    } else if (!open && dialog.open) {
      if (typeof dialog.close === 'function') dialog.close();
      else dialog.removeAttribute('open');
    }
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <>
          <div className="dialog-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="ghost" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </div>
          {children}
        </>
      )}
    </dialog>
  );
}

/** A confirmation with the consequences spelled out; optional typed confirmation word. */
export function Confirm({
  title,
  open,
  onClose,
  onConfirm,
  confirmLabel,
  danger,
  typeToConfirm,
  children,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  onConfirm: () => Promise<void>;
  confirmLabel: string;
  danger?: boolean;
  typeToConfirm?: string;
  children: ReactNode;
}) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    if (open) {
      setTyped('');
      setError(undefined);
    }
  }, [open]);
  const ready = !typeToConfirm || typed === typeToConfirm;
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ready) return;
          setBusy(true);
          setError(undefined);
          try {
            await onConfirm();
            onClose();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="confirm-body">{children}</div>
        {typeToConfirm && (
          <TextField
            label={`Type "${typeToConfirm}" to confirm`}
            value={typed}
            onChange={setTyped}
          />
        )}
        <ErrorBox error={error} />
        <div className="actions">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={!ready || busy}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** A secret shown once, with a copy button; it lives only in this component's state. */
export function SecretReveal({
  label,
  secret,
  onDone,
}: {
  label: string;
  secret: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const id = useId();
  return (
    <section className="secret" aria-labelledby={id}>
      <h2 id={id}>{label}</h2>
      <p>
        <strong>This is shown only once.</strong> Copy it now and store it safely: Tessera keeps
        only a digest and cannot show it again.
      </p>
      <div className="secret-row">
        <code data-testid="secret-value">{secret}</code>
        <button
          type="button"
          className="primary"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(secret);
              setCopied('yes');
            } catch {
              setCopied('failed');
            }
          }}
        >
          Copy
        </button>
      </div>
      <p role="status" aria-live="polite" className="hint">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copying failed: select the text and copy it by hand.'
            : ''}
      </p>
      <button type="button" className="secondary" onClick={onDone}>
        I have stored it
      </button>
    </section>
  );
}

/** Pages a list already in memory (the API returns these lists whole). */
export function usePaged<T>(items: readonly T[], pageSize = 20) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const current = Math.min(page, pages - 1);
  return {
    rows: items.slice(current * pageSize, current * pageSize + pageSize),
    pager: (
      <Pager
        label={`Page ${current + 1} of ${pages} (${items.length} in all)`}
        onPrevious={current > 0 ? () => setPage(current - 1) : undefined}
        onNext={current < pages - 1 ? () => setPage(current + 1) : undefined}
      />
    ),
  };
}

export function Pager({
  label,
  onPrevious,
  onNext,
}: {
  label: string;
  onPrevious?: () => void;
  onNext?: () => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="secondary" disabled={!onPrevious} onClick={onPrevious}>
        Previous
      </button>
      <span aria-live="polite">{label}</span>
      <button type="button" className="secondary" disabled={!onNext} onClick={onNext}>
        Next
      </button>
    </nav>
  );
}

/**
 * Keyset paging over an API `next_cursor`: the stack of cursors that led here gives "Previous".
 */
export function useCursor() {
  const [stack, setStack] = useState<string[]>([]);
  const cursor = stack[stack.length - 1];
  return {
    cursor,
    page: stack.length + 1,
    next: (nextCursor: string) => setStack((s) => [...s, nextCursor]),
    previous: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? value
    : date.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

/** "3 d", "5 h", "12 min": how long ago. */
export function age(value: string | null | undefined, now = Date.now()): string {
  if (!value) return '—';
  const seconds = Math.max(0, Math.round((now - new Date(value).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

export function Chips({ items }: { items: readonly string[] | undefined | null }) {
  if (!items?.length) return <span className="muted">—</span>;
  return (
    <ul className="chips">
      {items.map((item) => (
        <li key={item}>{item}</li>
      ))}
    </ul>
  );
}
