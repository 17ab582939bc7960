/** The `model` label of every request for a model that has not earned a label of its own. */
export const OTHER_MODEL_LABEL = '<other>';

/** At most this many distinct model names become label values (per process). */
export const MAX_MODEL_LABELS = 500;

/**
 * The `model` label values of the gateway's metrics, bounded. The model is the caller's word: a
 * label taken from it as is gave a caller with `invoke` one new histogram series (17 lines of
 * `/metrics`) per name it invented — 2,000 random names grew `/metrics` from 46 KB to 3.6 MB,
 * for good. A name becomes a label value only when it is known to be a model: named literally
 * (no `*` or `?`) in the policy's upstreams or prices, or answered successfully (status below 400)
 * by the upstream it was routed to — model servers refuse names they do not serve — and only
 * while fewer than {@link MAX_MODEL_LABELS} names have; any other request is labelled
 * {@link OTHER_MODEL_LABEL} (its model is in its log lines and the usage ledger).
 */
export class ModelLabels {
  private readonly known = new Set<string>();
  private full = false;

  /**
   * @param literals model names from the configuration (globs are skipped): labelled from the start.
   * @param onFull called once, when a name the upstream accepted finds no room left.
   */
  constructor(
    literals: Iterable<string> = [],
    private readonly max = MAX_MODEL_LABELS,
    private readonly onFull?: (max: number) => void,
  ) {
    for (const name of literals) {
      if (this.known.size >= max) break;
      if (!/[*?]/.test(name)) this.known.add(name);
    }
  }

  /**
   * The label of `model`: its own name when known, or when `accepted` (the upstream answered it
   * successfully) and there is room; otherwise {@link OTHER_MODEL_LABEL}.
   */
  of(model: string, accepted: boolean): string {
    if (this.known.has(model)) return model;
    if (!accepted) return OTHER_MODEL_LABEL;
    if (this.known.size >= this.max) {
      if (!this.full) {
        this.full = true;
        this.onFull?.(this.max);
      }
      return OTHER_MODEL_LABEL;
    }
    this.known.add(model);
    return model;
  }
}
