import { render, screen } from '@testing-library/react';
import type { ReactElement } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Me, MeContext } from '../me';
import { KeysPage } from './Keys';
import { UsagePage } from './Usage';

const KEYS = [
  {
    kid: 'kid-active-0123456789',
    algorithm: 'RS256',
    status: 'active',
    imported: false,
    createdAt: '2026-11-20T00:00:00Z',
    activatedAt: '2026-11-20T00:00:00Z',
    retiringAt: null,
    retireAfter: null,
    retiredAt: null,
  },
  {
    kid: 'kid-next-01234567890',
    algorithm: 'RS256',
    status: 'next',
    imported: false,
    createdAt: '2026-11-24T00:00:00Z',
    activatedAt: null,
    retiringAt: null,
    retireAfter: null,
    retiredAt: null,
  },
];

function stubFetch(routes: Record<string, () => Response>) {
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    const path = String(input).split('?')[0];
    const route = routes[path];
    return route
      ? route()
      : new Response(JSON.stringify({ detail: `No route for GET ${path}`, code: 'not_found' }), {
          status: 404,
        });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const json = (body: unknown) => () => new Response(JSON.stringify(body), { status: 200 });

function renderAs(permissions: string[], page: ReactElement) {
  const me: Me = {
    user_id: 'u1',
    email: 'ada@example.com',
    name: 'Ada',
    roles: ['r'],
    permissions,
  };
  return render(<MeContext.Provider value={me}>{page}</MeContext.Provider>);
}

afterEach(() => vi.unstubAllGlobals());

describe('signing keys page', () => {
  it('offers rotation to a person with keys:rotate', async () => {
    stubFetch({ '/admin/keys': json(KEYS) });
    renderAs(['keys:read', 'keys:rotate'], <KeysPage />);
    await screen.findByText('active');
    expect(screen.getByRole('button', { name: 'Soft rotate' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Hard rotate…' })).toBeTruthy();
  });

  it('shows the keys without the actions to a person with keys:read only', async () => {
    stubFetch({ '/admin/keys': json(KEYS) });
    renderAs(['keys:read'], <KeysPage />);
    await screen.findByText('active');
    expect(screen.queryByRole('button', { name: 'Soft rotate' })).toBeNull();
    expect(screen.queryByRole('button', { name: /Retire/ })).toBeNull();
  });

  it('explains a missing read permission instead of calling the API', () => {
    const fetch = stubFetch({});
    renderAs(['audit:read'], <KeysPage />);
    expect(screen.getByRole('status').textContent).toContain('keys:read');
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('usage page', () => {
  it('says usage is not available when the server has no /admin/usage', async () => {
    stubFetch({});
    renderAs(['*'], <UsagePage />);
    await screen.findByText('Usage reporting (GET /admin/usage) is not available on this server.');
  });

  it('shows totals and rows from the report', async () => {
    stubFetch({
      '/admin/usage': json({
        group_by: 'day',
        rows: [
          {
            key: '2026-11-25',
            requests: 3,
            prompt_tokens: 12,
            completion_tokens: 30,
            total_tokens: 42,
            cost_usd: 0,
          },
        ],
        totals: {
          requests: 3,
          prompt_tokens: 12,
          completion_tokens: 30,
          total_tokens: 42,
          cost_usd: 0,
        },
      }),
    });
    renderAs(['*'], <UsagePage />);
    expect((await screen.findByRole('cell', { name: '2026-11-25' })).textContent).toBe(
      '2026-11-25',
    );
    expect(screen.getByText('42')).toBeTruthy();
  });
});
