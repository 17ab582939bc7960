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
  splitList,
  TextField,
} from '../components/ui';
import { useCan, useMe } from '../me';
import { useLoad } from './common';
import { KNOWN_PERMISSIONS } from '../../../src/rbac/known-permissions';

interface Role {
  name: string;
  permissions: string[];
  description: string | null;
  updatedAt: string;
}

/** The permissions Tessera checks (the server's own list); a role may also grant `*` or `prefix:*`. */
const KNOWN: readonly string[] = KNOWN_PERMISSIONS;

export function RolesPage() {
  const can = useCan();
  const me = useMe();
  const allowed = can('roles:manage');
  const list = useLoad(
    () => (allowed ? api<Role[]>('GET', '/admin/roles') : Promise.resolve([])),
    [allowed],
  );
  const [editing, setEditing] = useState<{ role?: Role }>();
  const [deleting, setDeleting] = useState<Role>();
  return (
    <>
      <p className="lead">
        Roles grant permissions; clients, API keys and users carry roles. Changes apply on every
        replica at once.
      </p>
      <section className="card" aria-labelledby="mine">
        <h2 id="mine">Your permissions</h2>
        <p>
          Roles <Chips items={me?.roles} /> grant <Chips items={me?.permissions} />
        </p>
      </section>
      {!allowed ? (
        <NoPermission permission="roles:manage" />
      ) : (
        <>
          <div className="toolbar">
            <button type="button" className="primary" onClick={() => setEditing({})}>
              Create role
            </button>
          </div>
          <ErrorBox error={list.error} />
          <table className="table">
            <caption className="sr-only">Roles</caption>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Permissions</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(list.data ?? []).map((r) => (
                <tr key={r.name}>
                  <td data-label="Role">
                    <strong>{r.name}</strong>
                    {r.description && <div className="muted">{r.description}</div>}
                  </td>
                  <td data-label="Permissions">
                    <Chips items={r.permissions} />
                  </td>
                  <td data-label="Updated">{formatDate(r.updatedAt)}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="secondary"
                      aria-label={`Edit role ${r.name}`}
                      onClick={() => setEditing({ role: r })}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete role ${r.name}`}
                      onClick={() => setDeleting(r)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <RoleForm
        state={editing}
        onClose={() => setEditing(undefined)}
        onSaved={async () => {
          setEditing(undefined);
          await list.reload();
        }}
      />
      <Confirm
        title={`Delete role ${deleting?.name ?? ''}?`}
        open={!!deleting}
        onClose={() => setDeleting(undefined)}
        confirmLabel="Delete role"
        danger
        onConfirm={async () => {
          await api('DELETE', `/admin/roles/${encodeURIComponent(deleting!.name)}`);
          await list.reload();
        }}
      >
        <p>
          Everyone holding this role loses its permissions at once, including tokens already issued.
        </p>
      </Confirm>
    </>
  );
}

function RoleForm({
  state,
  onClose,
  onSaved,
}: {
  state?: { role?: Role };
  onClose: () => void;
  onSaved: () => Promise<void>;
}) {
  const [name, setName] = useState('');
  const [permissions, setPermissions] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>();
  const [openedFor, setOpenedFor] = useState<unknown>();
  if (state !== openedFor) {
    setOpenedFor(state);
    setName(state?.role?.name ?? '');
    setPermissions(state?.role?.permissions.join(', ') ?? '');
    setDescription(state?.role?.description ?? '');
    setError(undefined);
  }
  const editing = !!state?.role;
  return (
    <Dialog title={editing ? `Edit role ${name}` : 'Create role'} open={!!state} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            const body: Record<string, unknown> = { permissions: splitList(permissions) };
            if (description.trim()) body.description = description.trim();
            if (editing) await api('PATCH', `/admin/roles/${encodeURIComponent(name)}`, { body });
            else await api('POST', '/admin/roles', { body: { ...body, name: name.trim() } });
            await onSaved();
          } catch (err) {
            setError(err);
          }
        }}
      >
        {!editing && <TextField label="Name" value={name} onChange={setName} required />}
        <TextField
          label="Permissions"
          hint={`Comma-separated: ${KNOWN.join(', ')}, * or prefix:*`}
          value={permissions}
          onChange={setPermissions}
        />
        <TextField label="Description" value={description} onChange={setDescription} />
        <FormActions error={error} onCancel={onClose} submit="Save" />
      </form>
    </Dialog>
  );
}
