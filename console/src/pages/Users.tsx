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
  usePaged,
} from '../components/ui';
import { useCan, useMe } from '../me';
import { useLoad } from './common';

export interface User {
  oid: string;
  email: string;
  name: string | null;
  roles: string[];
  disabled: boolean;
  createdAt: string;
}

export function UsersPage() {
  const can = useCan();
  const me = useMe();
  const allowed = can('users:manage');
  const list = useLoad(
    () => (allowed ? api<User[]>('GET', '/admin/users') : Promise.resolve([])),
    [allowed],
  );
  const [filter, setFilter] = useState('');
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User>();
  const [toggling, setToggling] = useState<User>();
  const [revoking, setRevoking] = useState<User>();
  const [notice, setNotice] = useState('');
  const items = (list.data ?? []).filter((u) =>
    `${u.email} ${u.name ?? ''} ${u.roles.join(' ')}`.toLowerCase().includes(filter.toLowerCase()),
  );
  const { rows, pager } = usePaged(items);
  if (!allowed) return <NoPermission permission="users:manage" />;
  return (
    <>
      <p className="lead">
        People who sign in with email and password (the console, <code>/auth/login</code>).
      </p>
      <p role="status" className="hint">
        {notice}
      </p>
      <div className="toolbar">
        <TextField
          label="Filter"
          value={filter}
          onChange={setFilter}
          placeholder="email, name or role"
        />
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Create user
        </button>
      </div>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">Users</caption>
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Roles</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((u) => (
            <tr key={u.oid}>
              <td data-label="User">
                <strong>{u.email}</strong>
                {u.name && <div className="muted">{u.name}</div>}
                <div className="muted small" title="oid: the sub of their tokens">
                  {u.oid}
                </div>
              </td>
              <td data-label="Roles">
                <Chips items={u.roles} />
              </td>
              <td data-label="State">
                {u.disabled ? (
                  <span className="badge bad">disabled</span>
                ) : (
                  <span className="badge good">active</span>
                )}
              </td>
              <td data-label="Created">{formatDate(u.createdAt)}</td>
              <td className="row-actions">
                <button
                  type="button"
                  className="secondary"
                  aria-label={`Edit roles of ${u.email}`}
                  onClick={() => setEditing(u)}
                >
                  Roles
                </button>
                {u.oid !== me?.user_id && (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.email}`}
                    onClick={() => setToggling(u)}
                  >
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                )}
                {can('tokens:revoke') && (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke tokens of ${u.email}`}
                    onClick={() => setRevoking(u)}
                  >
                    Revoke tokens
                  </button>
                )}
              </td>
            </tr>
          ))}
          {!list.loading && rows.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No users.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {pager}
      <CreateUser
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={async () => {
          setCreating(false);
          await list.reload();
        }}
      />
      <EditRoles
        user={editing}
        onClose={() => setEditing(undefined)}
        onSaved={async () => {
          setEditing(undefined);
          await list.reload();
        }}
      />
      <Confirm
        title={`${toggling?.disabled ? 'Enable' : 'Disable'} ${toggling?.email ?? ''}?`}
        open={!!toggling}
        onClose={() => setToggling(undefined)}
        confirmLabel={toggling?.disabled ? 'Enable' : 'Disable'}
        danger={!toggling?.disabled}
        onConfirm={async () => {
          await api('PATCH', `/admin/users/${toggling!.oid}`, {
            body: { disabled: !toggling!.disabled },
          });
          await list.reload();
        }}
      >
        {toggling?.disabled ? (
          <p>They can sign in again.</p>
        ) : (
          <p>
            They can no longer sign in or refresh a session. Access tokens they already hold stay
            valid until they expire: revoke their tokens to end those too.
          </p>
        )}
      </Confirm>
      <Confirm
        title={`Revoke every token of ${revoking?.email ?? ''}?`}
        open={!!revoking}
        onClose={() => setRevoking(undefined)}
        confirmLabel="Revoke tokens"
        danger
        onConfirm={async () => {
          await api('DELETE', `/users/${revoking!.oid}/tokens`);
          setNotice(`Every token of ${revoking!.email} issued until now is revoked.`);
        }}
      >
        <p>
          Every access, refresh and parent token issued to them until now stops working on every
          replica at once. They can sign in again unless you also disable them.
        </p>
      </Confirm>
    </>
  );
}

function CreateUser({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: () => Promise<void>;
}) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="Create user" open={open} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            const body: Record<string, unknown> = { email: email.trim(), password };
            if (name.trim()) body.name = name.trim();
            if (splitList(roles).length) body.roles = splitList(roles);
            await api('POST', '/admin/users', { body });
            setEmail('');
            setName('');
            setPassword('');
            setRoles('');
            await onCreated();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <TextField label="Email" type="email" value={email} onChange={setEmail} required />
        <TextField label="Name" value={name} onChange={setName} />
        <TextField
          label="Password"
          type="password"
          hint="8 to 1024 characters"
          value={password}
          onChange={setPassword}
          required
          autoComplete="new-password"
        />
        <TextField
          label="Roles"
          hint="Comma-separated; empty: the default role"
          value={roles}
          onChange={setRoles}
        />
        <FormActions error={error} onCancel={onClose} submit="Create" busy={busy} />
      </form>
    </Dialog>
  );
}

function EditRoles({
  user,
  onClose,
  onSaved,
}: {
  user?: User;
  onClose: () => void;
  onSaved: () => Promise<void>;
}) {
  const [roles, setRoles] = useState('');
  const [error, setError] = useState<unknown>();
  const [openedFor, setOpenedFor] = useState<User>();
  if (user !== openedFor) {
    setOpenedFor(user);
    setRoles(user?.roles.join(', ') ?? '');
    setError(undefined);
  }
  return (
    <Dialog title={`Roles of ${user?.email ?? ''}`} open={!!user} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            await api('PATCH', `/admin/users/${user!.oid}`, { body: { roles: splitList(roles) } });
            await onSaved();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <TextField
          label="Roles"
          hint="Comma-separated; new tokens carry them (a refresh picks them up)"
          value={roles}
          onChange={setRoles}
        />
        <FormActions error={error} onCancel={onClose} submit="Save" />
      </form>
    </Dialog>
  );
}
