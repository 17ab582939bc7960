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
import {
  EMPTY_LIMITS,
  Limits,
  limitsBody,
  LimitsFields,
  limitsFrom,
  ModelsAndLimits,
  useLoad,
} from './common';

export interface Client {
  id: string;
  name: string | null;
  roles: string[];
  scopes: string[];
  grantTypes: string[];
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  models?: string[];
  [extra: string]: unknown;
}

const GRANTS = ['client_credentials', 'password', 'refresh_token'];

interface Form {
  id: string;
  name: string;
  roles: string;
  scopes: string;
  grantTypes: string[];
  disabled: boolean;
  limits: Limits;
}

const EMPTY: Form = {
  id: '',
  name: '',
  roles: '',
  scopes: '',
  grantTypes: ['client_credentials'],
  disabled: false,
  limits: EMPTY_LIMITS,
};

export function ClientsPage() {
  const can = useCan();
  const allowed = can('clients:manage');
  const list = useLoad(
    () => (allowed ? api<Client[]>('GET', '/admin/clients') : Promise.resolve([])),
    [allowed],
  );
  const [filter, setFilter] = useState('');
  const [editing, setEditing] = useState<{ mode: 'create' } | { mode: 'edit'; client: Client }>();
  const [secret, setSecret] = useState<{ id: string; secret: string }>();
  const [resetting, setResetting] = useState<Client>();
  const [deleting, setDeleting] = useState<Client>();
  const [alsoRevoke, setAlsoRevoke] = useState(false);
  const items = (list.data ?? []).filter((c) =>
    `${c.id} ${c.name ?? ''} ${c.roles.join(' ')}`.toLowerCase().includes(filter.toLowerCase()),
  );
  const { rows, pager } = usePaged(items);
  if (!allowed) return <NoPermission permission="clients:manage" />;
  return (
    <>
      <p className="lead">OAuth clients: services that get tokens with their id and secret.</p>
      {secret && (
        <SecretReveal
          label={`Secret of client ${secret.id}`}
          secret={secret.secret}
          onDone={() => setSecret(undefined)}
        />
      )}
      <div className="toolbar">
        <TextField
          label="Filter"
          value={filter}
          onChange={setFilter}
          placeholder="id, name or role"
        />
        <button type="button" className="primary" onClick={() => setEditing({ mode: 'create' })}>
          Create client
        </button>
      </div>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">Clients</caption>
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col">Roles</th>
            <th scope="col">Scopes</th>
            <th scope="col">Grants</th>
            <th scope="col">Models / limits</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.id}>
              <td data-label="Client">
                <strong>{c.id}</strong>
                {c.name && <div className="muted">{c.name}</div>}
                {c.disabled && <span className="badge bad">disabled</span>}
              </td>
              <td data-label="Roles">
                <Chips items={c.roles} />
              </td>
              <td data-label="Scopes">
                <Chips items={c.scopes} />
              </td>
              <td data-label="Grants">
                <Chips items={c.grantTypes} />
              </td>
              <td data-label="Models / limits">
                <ModelsAndLimits record={c} />
              </td>
              <td data-label="Created">{formatDate(c.createdAt)}</td>
              <td className="row-actions">
                <button
                  type="button"
                  className="secondary"
                  onClick={() => setEditing({ mode: 'edit', client: c })}
                  aria-label={`Edit ${c.id}`}
                >
                  Edit
                </button>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => setResetting(c)}
                  aria-label={`Reset secret of ${c.id}`}
                >
                  Reset secret
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    setAlsoRevoke(false);
                    setDeleting(c);
                  }}
                  aria-label={`Delete ${c.id}`}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
          {!list.loading && rows.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                No clients{filter ? ' match the filter' : ''}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {pager}

      <ClientForm
        state={editing}
        onClose={() => setEditing(undefined)}
        onSaved={async (result) => {
          setEditing(undefined);
          if (result.client_secret) setSecret({ id: result.id, secret: result.client_secret });
          await list.reload();
        }}
      />
      <Confirm
        title={`Reset the secret of ${resetting?.id ?? ''}?`}
        open={!!resetting}
        onClose={() => setResetting(undefined)}
        confirmLabel="Reset secret"
        danger
        onConfirm={async () => {
          const result = await api<Client & { client_secret: string }>(
            'POST',
            `/admin/clients/${encodeURIComponent(resetting!.id)}/secret`,
          );
          setSecret({ id: result.id, secret: result.client_secret });
        }}
      >
        <p>
          A new secret replaces the old one at once: the service using this client must be given the
          new secret before it next asks for a token. Tokens already issued stay valid until they
          expire.
        </p>
      </Confirm>
      <Confirm
        title={`Delete client ${deleting?.id ?? ''}?`}
        open={!!deleting}
        onClose={() => setDeleting(undefined)}
        confirmLabel="Delete client"
        danger
        onConfirm={async () => {
          if (alsoRevoke) await api('POST', '/revoke', { body: { client_id: deleting!.id } });
          await api('DELETE', `/admin/clients/${encodeURIComponent(deleting!.id)}`);
          await list.reload();
        }}
      >
        <p>
          The client can no longer get tokens. Tokens it already holds stay valid until they expire,
          unless you revoke them too.
        </p>
        {can('tokens:revoke') && (
          <label className="check">
            <input
              type="checkbox"
              checked={alsoRevoke}
              onChange={(e) => setAlsoRevoke(e.target.checked)}
            />{' '}
            Also revoke every token issued to it
          </label>
        )}
      </Confirm>
    </>
  );
}

function ClientForm({
  state,
  onClose,
  onSaved,
}: {
  state: { mode: 'create' } | { mode: 'edit'; client: Client } | undefined;
  onClose: () => void;
  onSaved: (result: Client & { client_secret?: string }) => Promise<void>;
}) {
  const [form, setForm] = useState<Form>(EMPTY);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [openedFor, setOpenedFor] = useState<unknown>();
  if (state !== openedFor) {
    setOpenedFor(state);
    setError(undefined);
    setForm(
      state?.mode === 'edit'
        ? {
            id: state.client.id,
            name: state.client.name ?? '',
            roles: state.client.roles.join(', '),
            scopes: state.client.scopes.join(' '),
            grantTypes: state.client.grantTypes,
            disabled: state.client.disabled,
            limits: limitsFrom(state.client),
          }
        : EMPTY,
    );
  }
  const editing = state?.mode === 'edit';
  return (
    <Dialog
      title={editing ? `Edit client ${form.id}` : 'Create client'}
      open={!!state}
      onClose={onClose}
    >
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            const body: Record<string, unknown> = {
              roles: splitList(form.roles),
              scopes: splitList(form.scopes),
              grantTypes: form.grantTypes,
              ...limitsBody(form.limits, editing ? limitsFrom(state.client) : undefined),
            };
            if (form.name.trim()) body.name = form.name.trim();
            let result: Client & { client_secret?: string };
            if (editing) {
              body.disabled = form.disabled;
              result = await api('PATCH', `/admin/clients/${encodeURIComponent(form.id)}`, {
                body,
              });
            } else {
              if (form.id.trim()) body.id = form.id.trim();
              if (!splitList(form.roles).length) delete body.roles;
              if (!splitList(form.scopes).length) delete body.scopes;
              result = await api('POST', '/admin/clients', { body });
            }
            await onSaved(result);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        {!editing && (
          <TextField
            label="Client id"
            hint="Letters, digits, . _ : - ; generated when empty"
            value={form.id}
            onChange={(id) => setForm({ ...form, id })}
          />
        )}
        <TextField label="Name" value={form.name} onChange={(name) => setForm({ ...form, name })} />
        <TextField
          label="Roles"
          hint="Comma-separated, e.g. operator; empty: the default role"
          value={form.roles}
          onChange={(roles) => setForm({ ...form, roles })}
        />
        <TextField
          label="Scopes"
          hint="Space-separated, e.g. model:invoke; empty: model:invoke"
          value={form.scopes}
          onChange={(scopes) => setForm({ ...form, scopes })}
        />
        <fieldset>
          <legend>Grant types</legend>
          {GRANTS.map((g) => (
            <label key={g} className="check">
              <input
                type="checkbox"
                checked={form.grantTypes.includes(g)}
                onChange={(e) =>
                  setForm({
                    ...form,
                    grantTypes: e.target.checked
                      ? [...form.grantTypes, g]
                      : form.grantTypes.filter((x) => x !== g),
                  })
                }
              />{' '}
              {g}
            </label>
          ))}
        </fieldset>
        <LimitsFields value={form.limits} onChange={(limits) => setForm({ ...form, limits })} />
        {editing && (
          <label className="check">
            <input
              type="checkbox"
              checked={form.disabled}
              onChange={(e) => setForm({ ...form, disabled: e.target.checked })}
            />{' '}
            Disabled (cannot get tokens)
          </label>
        )}
        <FormActions
          error={error}
          onCancel={onClose}
          submit={editing ? 'Save' : 'Create'}
          busy={busy}
        />
      </form>
    </Dialog>
  );
}
