import { useState } from 'react';
import { api } from '../api';
import { age, Confirm, ErrorBox, formatDate, NoPermission } from '../components/ui';
import { useCan } from '../me';
import { useLoad } from './common';

interface SigningKey {
  kid: string;
  algorithm: string;
  status: 'next' | 'active' | 'retiring' | 'retired';
  imported: boolean;
  createdAt: string;
  activatedAt: string | null;
  retiringAt: string | null;
  retireAfter: string | null;
  retiredAt: string | null;
}

const STATE_HELP: Record<SigningKey['status'], string> = {
  next: 'published, signs nothing yet',
  active: 'signs new tokens',
  retiring: 'verifies until its tokens expire',
  retired: 'verifies nothing',
};

export function KeysPage() {
  const can = useCan();
  const allowed = can('keys:read');
  const list = useLoad(
    () => (allowed ? api<SigningKey[]>('GET', '/admin/keys') : Promise.resolve([])),
    [allowed],
  );
  const [rotation, setRotation] = useState<'soft' | 'hard'>();
  const [retiring, setRetiring] = useState<SigningKey>();
  const [notice, setNotice] = useState('');
  const [showRetired, setShowRetired] = useState(false);
  if (!allowed) return <NoPermission permission="keys:read" />;
  const keys = (list.data ?? []).filter((k) => showRetired || k.status !== 'retired');
  return (
    <>
      <p className="lead">
        Keys that sign and verify access tokens, newest first. The JWKS publishes every key that is
        not retired.
      </p>
      <p role="status" className="hint">
        {notice}
      </p>
      <div className="toolbar">
        <label className="check">
          <input
            type="checkbox"
            checked={showRetired}
            onChange={(e) => setShowRetired(e.target.checked)}
          />{' '}
          Show retired keys
        </label>
        {can('keys:rotate') && (
          <>
            <button type="button" className="primary" onClick={() => setRotation('soft')}>
              Soft rotate
            </button>
            <button type="button" className="danger" onClick={() => setRotation('hard')}>
              Hard rotate…
            </button>
          </>
        )}
      </div>
      <ErrorBox error={list.error} />
      <table className="table">
        <caption className="sr-only">Signing keys</caption>
        <thead>
          <tr>
            <th scope="col">Key id</th>
            <th scope="col">Algorithm</th>
            <th scope="col">State</th>
            <th scope="col">Age</th>
            <th scope="col">Activated</th>
            <th scope="col">Retires after</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.kid} data-state={k.status}>
              <td data-label="Key id">
                <code title={k.kid}>{k.kid.slice(0, 16)}…</code>
                {k.imported && <span className="badge">imported</span>}
              </td>
              <td data-label="Algorithm">{k.algorithm}</td>
              <td data-label="State">
                <span className={`badge state-${k.status}`}>{k.status}</span>
                <div className="muted small">{STATE_HELP[k.status]}</div>
              </td>
              <td data-label="Age" title={formatDate(k.createdAt)}>
                {age(k.createdAt)}
              </td>
              <td data-label="Activated">{formatDate(k.activatedAt)}</td>
              <td data-label="Retires after">{formatDate(k.retiredAt ?? k.retireAfter)}</td>
              <td className="row-actions">
                {can('keys:rotate') && (k.status === 'retiring' || k.status === 'next') && (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`Retire key ${k.kid}`}
                    onClick={() => setRetiring(k)}
                  >
                    Retire now
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Confirm
        title="Soft rotation"
        open={rotation === 'soft'}
        onClose={() => setRotation(undefined)}
        confirmLabel="Rotate softly"
        onConfirm={async () => {
          const key = await api<SigningKey>('POST', '/admin/keys/rotate', {
            body: { mode: 'soft' },
          });
          setNotice(`Soft rotation done: ${key.kid.slice(0, 16)}… signs new tokens.`);
          await list.reload();
        }}
      >
        <p>
          The published <em>next</em> key becomes active and a new next key is published. Tokens
          signed by the current key keep working until they expire; nothing breaks.
        </p>
      </Confirm>
      <Confirm
        title="Hard rotation: every token stops working"
        open={rotation === 'hard'}
        onClose={() => setRotation(undefined)}
        confirmLabel="Rotate hard"
        danger
        typeToConfirm="hard"
        onConfirm={async () => {
          const key = await api<SigningKey>('POST', '/admin/keys/rotate', {
            body: { mode: 'hard' },
          });
          setNotice(
            `Hard rotation done: ${key.kid.slice(0, 16)}… signs new tokens; every older key is retired.`,
          );
          await list.reload();
        }}
      >
        <p>A hard rotation retires every existing key at once. What breaks, immediately:</p>
        <ul>
          <li>
            every access token issued so far, for every client, user and API caller — they must get
            new tokens;
          </li>
          <li>parent/child token chains: no more children are minted for existing parents;</li>
          <li>this console session’s access token (the session refreshes itself);</li>
          <li>verifiers that cache the JWKS reject the new tokens until they fetch it again.</li>
        </ul>
        <p>Use it when a signing key may have leaked. For routine rotation use a soft rotation.</p>
      </Confirm>
      <Confirm
        title={`Retire key ${retiring?.kid.slice(0, 16) ?? ''}…?`}
        open={!!retiring}
        onClose={() => setRetiring(undefined)}
        confirmLabel="Retire key"
        danger
        onConfirm={async () => {
          await api('POST', `/admin/keys/${encodeURIComponent(retiring!.kid)}/retire`);
          await list.reload();
        }}
      >
        <p>Tokens signed by this key stop verifying now, before they expire.</p>
      </Confirm>
    </>
  );
}
