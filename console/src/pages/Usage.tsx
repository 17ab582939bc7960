import { useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { api } from '../api';
import { ErrorBox, NoPermission, TextField, Unavailable } from '../components/ui';
import { useCan } from '../me';
import { isUnavailable, useLoad } from './common';

type GroupBy = 'day' | 'model' | 'subject';

export interface UsageRow {
  key: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  group_by: GroupBy;
  rows: UsageRow[];
  totals: Omit<UsageRow, 'key'>;
}

interface Filters {
  subject: string;
  client_id: string;
  model: string;
  since: string;
  until: string;
}

const GROUPS: Array<{ value: GroupBy; label: string }> = [
  { value: 'day', label: 'By day' },
  { value: 'model', label: 'By model' },
  { value: 'subject', label: 'By principal' },
];

const NO_FILTERS: Filters = { subject: '', client_id: '', model: '', since: '', until: '' };

export function UsagePage() {
  const can = useCan();
  const allowed = can('usage:read');
  const [groupBy, setGroupBy] = useState<GroupBy>('day');
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const report = useLoad(
    () =>
      api<UsageReport>('GET', '/admin/usage', {
        query: {
          group_by: groupBy,
          subject: filters.subject.trim(),
          client_id: filters.client_id.trim(),
          model: filters.model.trim(),
          since: filters.since,
          until: filters.until,
        },
      }),
    [groupBy, filters],
  );
  if (isUnavailable(report.error))
    return (
      <>
        <Unavailable what="Usage reporting (GET /admin/usage)" />
      </>
    );
  if (!allowed && !report.data) return <NoPermission permission="usage:read" />;
  const rows = report.data?.rows ?? [];
  return (
    <>
      <p className="lead">
        Requests, tokens and cost from the usage ledger, by day, model or principal.
      </p>
      <form
        className="card filters"
        aria-label="Usage filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <div className="grid3">
          <TextField
            label="Principal (subject)"
            value={draft.subject}
            onChange={(subject) => setDraft({ ...draft, subject })}
          />
          <TextField
            label="Client id"
            value={draft.client_id}
            onChange={(client_id) => setDraft({ ...draft, client_id })}
          />
          <TextField
            label="Model"
            value={draft.model}
            onChange={(model) => setDraft({ ...draft, model })}
          />
          <TextField
            label="Since"
            type="date"
            value={draft.since}
            onChange={(since) => setDraft({ ...draft, since })}
          />
          <TextField
            label="Until"
            type="date"
            value={draft.until}
            onChange={(until) => setDraft({ ...draft, until })}
          />
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
        </div>
      </form>
      <div className="segmented" role="group" aria-label="Group by">
        {GROUPS.map((g) => (
          <button
            key={g.value}
            type="button"
            aria-pressed={groupBy === g.value}
            onClick={() => setGroupBy(g.value)}
          >
            {g.label}
          </button>
        ))}
      </div>
      <ErrorBox error={report.error} />
      {report.data && (
        <>
          <Totals report={report.data} />
          {rows.length === 0 ? (
            <p className="muted">No usage recorded for these filters.</p>
          ) : (
            <div className="charts">
              <Chart
                title="Requests"
                rows={rows}
                bars={[{ key: 'requests', name: 'Requests', color: '#1d4ed8' }]}
              />
              <Chart
                title="Tokens"
                rows={rows}
                bars={[
                  { key: 'prompt_tokens', name: 'Prompt', color: '#0f766e', stack: 't' },
                  { key: 'completion_tokens', name: 'Completion', color: '#b45309', stack: 't' },
                ]}
              />
              <Chart
                title="Cost (USD)"
                rows={rows}
                bars={[{ key: 'cost_usd', name: 'Cost (USD)', color: '#7e22ce' }]}
              />
            </div>
          )}
          <UsageTable report={report.data} />
        </>
      )}
    </>
  );
}

function Totals({ report }: { report: UsageReport }) {
  const t = report.totals;
  return (
    <dl className="totals" aria-label="Totals">
      <div>
        <dt>Requests</dt>
        <dd>{t.requests.toLocaleString('en')}</dd>
      </div>
      <div>
        <dt>Tokens</dt>
        <dd>{t.total_tokens.toLocaleString('en')}</dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd>${t.cost_usd.toFixed(4)}</dd>
      </div>
    </dl>
  );
}

function Chart({
  title,
  rows,
  bars,
}: {
  title: string;
  rows: UsageRow[];
  bars: Array<{ key: keyof UsageRow; name: string; color: string; stack?: string }>;
}) {
  return (
    <figure className="chart card" aria-label={`${title} chart`}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={220}>
        <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#d4d4d8" />
          <XAxis
            dataKey="key"
            tick={{ fontSize: 12, fill: '#27272a' }}
            interval="preserveStartEnd"
          />
          <YAxis
            tick={{ fontSize: 12, fill: '#27272a' }}
            width={56}
            allowDecimals={title.startsWith('Cost')}
          />
          <Tooltip />
          {bars.length > 1 && <Legend />}
          {bars.map((b) => (
            <Bar
              key={b.key}
              dataKey={b.key}
              name={b.name}
              fill={b.color}
              stackId={b.stack}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

function UsageTable({ report }: { report: UsageReport }) {
  const group = GROUPS.find((g) => g.value === report.group_by)?.label.replace('By ', '') ?? 'key';
  const label = group[0].toUpperCase() + group.slice(1);
  return (
    <table className="table">
      <caption className="sr-only">Usage rows</caption>
      <thead>
        <tr>
          <th scope="col">{label}</th>
          <th scope="col" className="num">
            Requests
          </th>
          <th scope="col" className="num">
            Prompt tokens
          </th>
          <th scope="col" className="num">
            Completion tokens
          </th>
          <th scope="col" className="num">
            Cost (USD)
          </th>
        </tr>
      </thead>
      <tbody>
        {report.rows.map((r) => (
          <tr key={r.key}>
            <td data-label={label}>
              <span className="wrap">{r.key}</span>
            </td>
            <td data-label="Requests" className="num">
              {r.requests}
            </td>
            <td data-label="Prompt tokens" className="num">
              {r.prompt_tokens}
            </td>
            <td data-label="Completion tokens" className="num">
              {r.completion_tokens}
            </td>
            <td data-label="Cost (USD)" className="num">
              {r.cost_usd.toFixed(4)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
