import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api';
import { Chips, splitList, TextField } from '../components/ui';

/** Loads once and on demand; keeps the last error (with the API's detail). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await run());
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

export function isUnavailable(error: unknown): boolean {
  return error instanceof ApiError && error.unavailable;
}

/**
 * The gateway's per-principal limits and model list on clients and API keys. Older servers
 * ignore fields they do not know, so they are sent only when set.
 */
export interface Limits {
  models: string;
  rate_limit: string;
  token_limit: string;
  budget: string;
}

export const EMPTY_LIMITS: Limits = { models: '', rate_limit: '', token_limit: '', budget: '' };

export function limitsFrom(record: Record<string, unknown>): Limits {
  const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  return {
    models: Array.isArray(record.models) ? record.models.join(', ') : '',
    rate_limit: text(record.rate_limit ?? record.rateLimit),
    token_limit: text(record.token_limit ?? record.tokenLimit),
    budget: text(record.budget),
  };
}

/**
 * The request fields for `limits`: each one that is set; when editing (`before` given), `null`
 * for one that was set and has been emptied, which clears it.
 */
export function limitsBody(limits: Limits, before?: Limits): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const models = splitList(limits.models);
  if (models.length) body.models = models;
  else if (before && splitList(before.models).length) body.models = null;
  for (const field of ['rate_limit', 'token_limit', 'budget'] as const) {
    const value = limits[field].trim();
    if (value) body[field] = value;
    else if (before?.[field].trim()) body[field] = null;
  }
  return body;
}

export function LimitsFields({
  value,
  onChange,
}: {
  value: Limits;
  onChange: (v: Limits) => void;
}) {
  return (
    <fieldset>
      <legend>Models and limits (optional)</legend>
      <TextField
        label="Models"
        hint="Model ids or globs this principal may invoke, e.g. llama-*, tessera-echo"
        value={value.models}
        onChange={(models) => onChange({ ...value, models })}
      />
      <div className="grid3">
        <TextField
          label="Rate limit"
          hint="e.g. 100/minute"
          value={value.rate_limit}
          onChange={(rate_limit) => onChange({ ...value, rate_limit })}
        />
        <TextField
          label="Token limit"
          hint="e.g. 200000/day"
          value={value.token_limit}
          onChange={(token_limit) => onChange({ ...value, token_limit })}
        />
        <TextField
          label="Budget (USD)"
          hint="e.g. 5/month"
          value={value.budget}
          onChange={(budget) => onChange({ ...value, budget })}
        />
      </div>
    </fieldset>
  );
}

/** The models list and limits of a client or API key, or one dash when it has none. */
export function ModelsAndLimits({ record }: { record: Record<string, unknown> }) {
  const l = limitsFrom(record);
  const limits = [
    l.rate_limit && `${l.rate_limit} requests`,
    l.token_limit && `${l.token_limit} tokens`,
    l.budget && `$${l.budget}`,
  ].filter(Boolean);
  const models = splitList(l.models);
  if (!models.length && !limits.length) return <span className="muted">—</span>;
  return (
    <>
      {models.length > 0 && <Chips items={models} />}
      {limits.length > 0 && <div className="small">{limits.join(' · ')}</div>}
    </>
  );
}
