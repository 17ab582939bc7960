import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, refresh, setSignedOutHandler, signIn, signOut } from './api';
import { ErrorBox, TextField } from './components/ui';
import { Me, MeContext } from './me';
import { canUseConsole } from './permissions';
import { ApiKeysPage } from './pages/ApiKeys';
import { AuditPage } from './pages/Audit';
import { ClientsPage } from './pages/Clients';
import { KeysPage } from './pages/Keys';
import { RevocationsPage } from './pages/Revocations';
import { RolesPage } from './pages/Roles';
import { UsersPage } from './pages/Users';

// The chart library is most of the bundle: load it with the usage page only.
const UsagePage = lazy(() => import('./pages/Usage').then((m) => ({ default: m.UsagePage })));

export const PAGES = [
  { path: 'clients', title: 'Clients', Component: ClientsPage },
  { path: 'api-keys', title: 'API keys', Component: ApiKeysPage },
  { path: 'users', title: 'Users', Component: UsersPage },
  { path: 'roles', title: 'Roles & permissions', Component: RolesPage },
  { path: 'keys', title: 'Signing keys', Component: KeysPage },
  { path: 'revocations', title: 'Revocations', Component: RevocationsPage },
  { path: 'audit', title: 'Audit', Component: AuditPage },
  { path: 'usage', title: 'Usage', Component: UsagePage },
] as const;

const BASE = '/console/';

function currentPage(): string {
  const path = window.location.pathname.startsWith(BASE)
    ? window.location.pathname.slice(BASE.length).replace(/\/+$/, '')
    : '';
  return PAGES.some((p) => p.path === path) ? path : 'clients';
}

type State =
  { kind: 'loading' } | { kind: 'signed-out'; error?: unknown } | { kind: 'signed-in'; me: Me };

async function loadMe(): Promise<Me> {
  return api<Me>('GET', '/auth/verify');
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [page, setPage] = useState(currentPage);

  const enter = useCallback(async () => {
    const me = await loadMe();
    if (!canUseConsole(me.permissions)) {
      await signOut();
      throw new ApiError(
        403,
        'This account has none of the permissions the console needs (clients:manage, users:manage, keys:read, audit:read, …).',
        'insufficient_permissions',
      );
    }
    setState({ kind: 'signed-in', me });
  }, []);

  useEffect(() => {
    setSignedOutHandler(() => setState({ kind: 'signed-out' }));
    // A session survives a reload only through the HttpOnly cookie; try it once.
    void (async () => {
      try {
        if (await refresh()) await enter();
        else setState({ kind: 'signed-out' });
      } catch (error) {
        setState({ kind: 'signed-out', error });
      }
    })();
    const onPop = () => setPage(currentPage());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, [enter]);

  const navigate = (path: string) => {
    window.history.pushState(null, '', BASE + path);
    setPage(path);
  };

  useEffect(() => {
    const title = PAGES.find((p) => p.path === page)?.title ?? 'Console';
    document.title = `${title} · Tessera console`;
  }, [page]);

  if (state.kind === 'loading')
    return (
      <main className="center" aria-busy="true">
        <p>Loading…</p>
      </main>
    );
  if (state.kind === 'signed-out')
    return (
      <SignIn
        error={state.error}
        onSignIn={async (email, password) => {
          await signIn(email, password);
          await enter();
        }}
      />
    );
  return (
    <MeContext.Provider value={state.me}>
      <Shell
        me={state.me}
        page={page}
        navigate={navigate}
        onSignOut={async () => {
          await signOut();
          setState({ kind: 'signed-out' });
        }}
      />
    </MeContext.Provider>
  );
}

function SignIn({
  error,
  onSignIn,
}: {
  error?: unknown;
  onSignIn: (email: string, password: string) => Promise<void>;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [failure, setFailure] = useState<unknown>(error);
  const [busy, setBusy] = useState(false);
  return (
    <main className="center">
      <form
        className="card signin"
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setFailure(undefined);
          try {
            await onSignIn(email, password);
          } catch (err) {
            setFailure(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="signin-title">Tessera console</h1>
        <p className="hint">Sign in with a Tessera user whose roles grant admin permissions.</p>
        <TextField
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          required
          autoComplete="username"
        />
        <TextField
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          required
          autoComplete="current-password"
        />
        <ErrorBox error={failure} />
        <button type="submit" className="primary wide" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Shell({
  me,
  page,
  navigate,
  onSignOut,
}: {
  me: Me;
  page: string;
  navigate: (path: string) => void;
  onSignOut: () => Promise<void>;
}) {
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);
  const current = PAGES.find((p) => p.path === page) ?? PAGES[0];
  const Page = current.Component;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button secondary"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
        <span className="brand">Tessera console</span>
        <span className="who" title={me.user_id}>
          {me.email ?? me.user_id}{' '}
          <span className="muted">({me.roles.join(', ') || 'no roles'})</span>
        </span>
        <button type="button" className="secondary" onClick={() => void onSignOut()}>
          Sign out
        </button>
      </header>
      <nav id="nav" className={menuOpen ? 'sidenav open' : 'sidenav'} aria-label="Console pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a
                href={`/console/${p.path}`}
                aria-current={p.path === current.path ? 'page' : undefined}
                onClick={(e) => {
                  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                  e.preventDefault();
                  setMenuOpen(false);
                  navigate(p.path);
                  mainRef.current?.focus();
                }}
              >
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <h1>{current.title}</h1>
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>
          <Page key={current.path} />
        </Suspense>
      </main>
    </div>
  );
}
