import { useState } from 'react';
import { api } from '../api';
import { ErrorBox, formatDate, NoPermission, Pager, TextField, useCursor } from '../components/ui';
import { useCan } from '../me';
import { useLoad } from './common';

interface Revocation {
  kind: 'jti' | 'subject' | 'client';
  value: string;
  revoked_before: string | null;
  expires_at: string;
  reason: string | null;
  created_at: string;
}

interface Page {
  revocations: Revocation[];
  next_cursor: string | null;
}

const KINDS = {
  jti: {
    label: 'Token (jti)',
    hint: 'The jti claim of one token; a parent takes its children with it',
  },
  subject: {
    label: 'Subject',
    hint: 'A user oid or client id: every token of that subject issued until now',
  },
  client: { label: 'Client', hint: 'A client id: every token issued to the client until now' },
} as const;

export function RevocationsPage() {
  const can = useCan();
  const allowed = can('tokens:revoke');
  const [kind, setKind] = useState<'' | Revocation['kind']>('');
  const paging = useCursor();
  const list = useLoad(
    () =>
      allowed
        ? api<Page>('GET', '/admin/revocations', {
            query: { kind, cursor: paging.cursor, limit: 25 },
          })
        : Promise.resolve({ revocations: [], next_cursor: null }),
    [allowed, kind, paging.cursor],
  );
  if (!allowed) return <NoPermission permission="tokens:revoke" />;
  return (
    <>
      <p className="lead">
        Revoked tokens and cut-offs, newest first. Every replica refuses them at once.
      </p>
      <RevokeForm onRevoked={() => (paging.page === 1 ? list.reload() : paging.reset())} />
      <h2>Stored revocations</h2>
      <div className="toolbar">
        <div className="field">
          <label htmlFor="rev-kind">Kind</label>
          <select
            id="rev-kind"
            value={kind}
            onChange={(e) => {
              setKind(e.target.value as typeof kind);
              paging.reset();
            }}
          >
            <option value="">All</option>
            <option value="jti">jti</option>
            <option value="subject">subject</option>
            <option value="client">client</option>
          </select>
        </div>
      </div>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">Revocations</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Value</th>
            <th scope="col">Revoked</th>
            <th scope="col">Kept until</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.revocations ?? []).map((r) => (
            <tr key={`${r.kind}:${r.value}:${r.created_at}`}>
              <td data-label="Kind">
                <span className="badge">{r.kind}</span>
              </td>
              <td data-label="Value">
                <code className="wrap">{r.value}</code>
              </td>
              <td data-label="Revoked">{formatDate(r.revoked_before ?? r.created_at)}</td>
              <td data-label="Kept until">{formatDate(r.expires_at)}</td>
              <td data-label="Reason">{r.reason ?? '—'}</td>
            </tr>
          ))}
          {!list.loading && !list.data?.revocations.length && (
            <tr>
              <td colSpan={5} className="muted">
                No revocations.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager
        label={`Page ${paging.page}`}
        onPrevious={paging.page > 1 ? paging.previous : undefined}
        onNext={list.data?.next_cursor ? () => paging.next(list.data!.next_cursor!) : undefined}
      />
    </>
  );
}

function RevokeForm({ onRevoked }: { onRevoked: () => unknown }) {
  const [kind, setKind] = useState<Revocation['kind']>('jti');
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  return (
    <form
      className="card"
      aria-labelledby="revoke-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        setDone('');
        const v = value.trim();
        try {
          if (kind === 'jti') await api('POST', '/revoke', { body: { jti: v } });
          else if (kind === 'client') await api('POST', '/revoke', { body: { client_id: v } });
          else await api('DELETE', `/users/${encodeURIComponent(v)}/tokens`);
          setDone(`Revoked ${KINDS[kind].label.toLowerCase()} ${v}.`);
          setValue('');
          await onRevoked();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2 id="revoke-title">Revoke</h2>
      <fieldset className="inline">
        <legend>Revoke by</legend>
        {(Object.keys(KINDS) as Array<Revocation['kind']>).map((k) => (
          <label key={k} className="check">
            <input
              type="radio"
              name="revoke-kind"
              value={k}
              checked={kind === k}
              onChange={() => setKind(k)}
            />{' '}
            {KINDS[k].label}
          </label>
        ))}
      </fieldset>
      <TextField
        label={KINDS[kind].label}
        hint={KINDS[kind].hint}
        value={value}
        onChange={setValue}
        required
      />
      <ErrorBox error={error} />
      <p role="status" className="hint">
        {done}
      </p>
      <div className="actions">
        <button type="submit" className="danger">
          Revoke
        </button>
      </div>
    </form>
  );
}
