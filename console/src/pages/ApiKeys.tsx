import { useState } from 'react';
import { api } from '../api';
import {
  Chips,
  Confirm,
  Dialog,
  ErrorBox,
  FormActions,
  formatDate,
  NoPermission,
  SecretReveal,
  splitList,
  TextField,
  usePaged,
} from '../components/ui';
import { useCan } from '../me';
import { EMPTY_LIMITS, limitsBody, LimitsFields, ModelsAndLimits, useLoad } from './common';

export interface ApiKey {
  id: string;
  name: string;
  prefix: string | null;
  roles: string[];
  source: 'database' | 'environment';
  createdAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  models?: string[];
  [extra: string]: unknown;
}

export function ApiKeysPage() {
  const can = useCan();
  const allowed = can('api_keys:manage');
  const list = useLoad(
    () => (allowed ? api<ApiKey[]>('GET', '/admin/api-keys') : Promise.resolve([])),
    [allowed],
  );
  const [filter, setFilter] = useState('');
  const [showRevoked, setShowRevoked] = useState(true);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey>();
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const items = (list.data ?? []).filter(
    (k) =>
      (showRevoked || !k.revokedAt) &&
      `${k.prefix ?? ''} ${k.name} ${k.id}`.toLowerCase().includes(filter.toLowerCase()),
  );
  const { rows, pager } = usePaged(items);
  if (!allowed) return <NoPermission permission="api_keys:manage" />;
  return (
    <>
      <p className="lead">
        API keys for agents and scripts. A key is shown once; afterwards only its prefix identifies
        it.
      </p>
      {created && (
        <SecretReveal
          label={`API key ${created.name}`}
          secret={created.key}
          onDone={() => setCreated(undefined)}
        />
      )}
      <div className="toolbar">
        <TextField
          label="Filter by prefix or name"
          value={filter}
          onChange={setFilter}
          placeholder="tsk_live_ab12"
        />
        <label className="check">
          <input
            type="checkbox"
            checked={showRevoked}
            onChange={(e) => setShowRevoked(e.target.checked)}
          />{' '}
          Show revoked
        </label>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Create API key
        </button>
      </div>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Prefix</th>
            <th scope="col">Name</th>
            <th scope="col">Roles</th>
            <th scope="col">Models / limits</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">State</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((k) => (
            <tr key={k.id}>
              <td data-label="Prefix">
                <code>{k.prefix ? `${k.prefix}…` : k.id}</code>
              </td>
              <td data-label="Name">{k.name}</td>
              <td data-label="Roles">
                <Chips items={k.roles} />
              </td>
              <td data-label="Models / limits">
                <ModelsAndLimits record={k} />
              </td>
              <td data-label="Created">{formatDate(k.createdAt)}</td>
              <td data-label="Last used">{formatDate(k.lastUsedAt)}</td>
              <td data-label="State">
                {k.revokedAt ? (
                  <span className="badge bad">revoked</span>
                ) : k.source === 'environment' ? (
                  <span className="badge">environment</span>
                ) : (
                  <span className="badge good">active</span>
                )}
              </td>
              <td className="row-actions">
                {k.source === 'database' && !k.revokedAt && (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke ${k.name}`}
                    onClick={() => setRevoking(k)}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
          {!list.loading && rows.length === 0 && (
            <tr>
              <td colSpan={8} className="muted">
                No API keys.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {pager}
      <CreateKey
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={async (k) => {
          setCreating(false);
          setCreated(k);
          await list.reload();
        }}
      />
      <Confirm
        title={`Revoke API key ${revoking?.name ?? ''}?`}
        open={!!revoking}
        onClose={() => setRevoking(undefined)}
        confirmLabel="Revoke key"
        danger
        onConfirm={async () => {
          await api('DELETE', `/admin/api-keys/${encodeURIComponent(revoking!.id)}`);
          await list.reload();
        }}
      >
        <p>
          Every replica refuses <code>{revoking?.prefix}…</code> at once. This cannot be undone: the
          holder needs a new key.
        </p>
      </Confirm>
    </>
  );
}

function CreateKey({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (k: { name: string; key: string }) => Promise<void>;
}) {
  const [name, setName] = useState('');
  const [roles, setRoles] = useState('');
  const [limits, setLimits] = useState(EMPTY_LIMITS);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="Create API key" open={open} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            const body: Record<string, unknown> = { name: name.trim(), ...limitsBody(limits) };
            if (splitList(roles).length) body.roles = splitList(roles);
            const result = await api<{ name: string; key: string }>('POST', '/admin/api-keys', {
              body,
            });
            setName('');
            setRoles('');
            setLimits(EMPTY_LIMITS);
            await onCreated(result);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <TextField label="Name" value={name} onChange={setName} required />
        <TextField
          label="Roles"
          hint="Comma-separated; empty: the default role"
          value={roles}
          onChange={setRoles}
        />
        <LimitsFields value={limits} onChange={setLimits} />
        <FormActions error={error} onCancel={onClose} submit="Create" busy={busy} />
      </form>
    </Dialog>
  );
}
