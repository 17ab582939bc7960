import { useState } from 'react';
import { api, authorizedFetch, errorFrom, withQuery } from '../api';
import {
  ErrorBox,
  formatDate,
  NoPermission,
  Pager,
  TextField,
  Unavailable,
  useCursor,
} from '../components/ui';
import { useCan } from '../me';
import { isUnavailable, useLoad } from './common';

interface AuditEvent {
  id: string;
  at: string;
  action: string;
  outcome: 'success' | 'failure';
  actor?: string;
  actorMethod?: string;
  target?: string;
  ip?: string;
  requestId?: string;
  details?: Record<string, unknown> | null;
}

interface Filters {
  action: string;
  actor: string;
  target: string;
  requestId: string;
  outcome: string;
  since: string;
  until: string;
}

const NO_FILTERS: Filters = {
  action: '',
  actor: '',
  target: '',
  requestId: '',
  outcome: '',
  since: '',
  until: '',
};

/** `datetime-local` values are local time; the API takes ISO 8601. */
function iso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function query(f: Filters) {
  return {
    action: f.action.trim(),
    actor: f.actor.trim(),
    target: f.target.trim(),
    request_id: f.requestId.trim(),
    outcome: f.outcome,
    since: iso(f.since),
    until: iso(f.until),
  };
}

interface ChainStatus {
  intact: boolean;
  checked: number;
  first_broken: null | { id: string; reason: string };
}

export function AuditPage() {
  const can = useCan();
  const allowed = can('audit:read');
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const paging = useCursor();
  const list = useLoad(
    () =>
      allowed
        ? api<{ events: AuditEvent[]; next_cursor: string | null }>('GET', '/admin/audit', {
            query: { ...query(filters), cursor: paging.cursor, limit: 25 },
          })
        : Promise.resolve({ events: [], next_cursor: null }),
    [allowed, filters, paging.cursor],
  );
  if (!allowed) return <NoPermission permission="audit:read" />;
  return (
    <>
      <p className="lead">
        Security events, newest first: token issuance, logins, key rotations, revocations and every
        admin change.
      </p>
      <ChainCheck />
      <form
        className="card filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          paging.reset();
          setFilters(draft);
        }}
      >
        <div className="grid3">
          <TextField
            label="Action"
            hint="Exact, or a prefix like client.*"
            value={draft.action}
            onChange={(action) => setDraft({ ...draft, action })}
          />
          <TextField
            label="Actor"
            hint="Subject of the caller"
            value={draft.actor}
            onChange={(actor) => setDraft({ ...draft, actor })}
          />
          <TextField
            label="Target"
            value={draft.target}
            onChange={(target) => setDraft({ ...draft, target })}
          />
          <TextField
            label="Request id"
            hint="Everything one request did (its x-request-id)"
            value={draft.requestId}
            onChange={(requestId) => setDraft({ ...draft, requestId })}
          />
          <div className="field">
            <label htmlFor="audit-outcome">Outcome</label>
            <select
              id="audit-outcome"
              value={draft.outcome}
              onChange={(e) => setDraft({ ...draft, outcome: e.target.value })}
            >
              <option value="">Any</option>
              <option value="success">success</option>
              <option value="failure">failure</option>
            </select>
          </div>
          <TextField
            label="Since"
            type="datetime-local"
            value={draft.since}
            onChange={(since) => setDraft({ ...draft, since })}
          />
          <TextField
            label="Until"
            type="datetime-local"
            value={draft.until}
            onChange={(until) => setDraft({ ...draft, until })}
          />
        </div>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
              paging.reset();
            }}
          >
            Clear
          </button>
          <ExportButton filters={filters} />
          <button type="submit" className="primary">
            Apply filters
          </button>
        </div>
      </form>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">Audit events</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Action</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actor</th>
            <th scope="col">Target</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.events ?? []).map((e) => (
            <tr key={e.id}>
              <td data-label="Time">{formatDate(e.at)}</td>
              <td data-label="Action">
                <code>{e.action}</code>
              </td>
              <td data-label="Outcome">
                <span className={`badge ${e.outcome === 'success' ? 'good' : 'bad'}`}>
                  {e.outcome}
                </span>
              </td>
              <td data-label="Actor">
                <span className="wrap">{e.actor ?? '—'}</span>
                {e.actorMethod && <div className="muted small">{e.actorMethod}</div>}
              </td>
              <td data-label="Target">
                <span className="wrap">{e.target ?? '—'}</span>
              </td>
              <td data-label="Details">
                {e.details && Object.keys(e.details).length ? (
                  <details>
                    <summary>Show</summary>
                    <pre>
                      {JSON.stringify({ ...e.details, ip: e.ip, request_id: e.requestId }, null, 2)}
                    </pre>
                  </details>
                ) : (
                  <span className="muted">{e.ip ?? '—'}</span>
                )}
              </td>
            </tr>
          ))}
          {!list.loading && !list.data?.events.length && (
            <tr>
              <td colSpan={6} className="muted">
                No events match.
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

function ChainCheck() {
  const status = useLoad(() => api<ChainStatus>('GET', '/admin/audit/verify'));
  return (
    <section className="card chain" aria-labelledby="chain-title">
      <h2 id="chain-title">Chain status</h2>
      {status.loading ? (
        <p>Checking…</p>
      ) : isUnavailable(status.error) ? (
        <Unavailable what="Audit chain verification" />
      ) : status.error ? (
        <ErrorBox error={status.error} />
      ) : status.data?.intact ? (
        <p>
          <span className="badge good">intact</span> {status.data.checked} events checked.
        </p>
      ) : (
        <p>
          <span className="badge bad">broken</span> at event {status.data?.first_broken?.id}:{' '}
          {status.data?.first_broken?.reason} ({status.data?.checked} checked)
        </p>
      )}
      <button type="button" className="secondary" onClick={() => void status.reload()}>
        Check again
      </button>
    </section>
  );
}

function ExportButton({ filters }: { filters: Filters }) {
  const [error, setError] = useState<unknown>();
  const [unavailable, setUnavailable] = useState(false);
  return (
    <>
      <button
        type="button"
        className="secondary"
        onClick={async () => {
          setError(undefined);
          try {
            const response = await authorizedFetch(
              withQuery('/admin/audit/export', query(filters)),
            );
            if (!response.ok) {
              const err = await errorFrom(response);
              if (err.unavailable) setUnavailable(true);
              else setError(err);
              return;
            }
            const blob = await response.blob();
            const url = URL.createObjectURL(blob);
            const link = document.createElement('a');
            link.href = url;
            link.download = `tessera-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.ndjson`;
            document.body.append(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(url), 10_000);
          } catch (err) {
            setError(err);
          }
        }}
      >
        Export NDJSON
      </button>
      {unavailable && <Unavailable what="Audit export" />}
      <ErrorBox error={error} />
    </>
  );
}
