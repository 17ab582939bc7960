import { ModelLabels, OTHER_MODEL_LABEL } from './model-labels';

describe('ModelLabels', () => {
  it('labels a model by name only once an upstream accepted it', () => {
    const labels = new ModelLabels();
    expect(labels.of('llama-3-8b', false)).toBe(OTHER_MODEL_LABEL);
    expect(labels.of('llama-3-8b', true)).toBe('llama-3-8b');
    // Known from then on, its failures (timeouts, 5xx) included.
    expect(labels.of('llama-3-8b', false)).toBe('llama-3-8b');
  });

  it('labels the literal names of the configuration from the start, never its globs', () => {
    const labels = new ModelLabels(['gpt-4o-mini', 'llama-*', 'qwen-?']);
    expect(labels.of('gpt-4o-mini', false)).toBe('gpt-4o-mini');
    expect(labels.of('llama-*', false)).toBe(OTHER_MODEL_LABEL);
    expect(labels.of('qwen-?', false)).toBe(OTHER_MODEL_LABEL);
  });

  it('never holds more than its bound of names, and says once when it is full', () => {
    const full: number[] = [];
    const labels = new ModelLabels(['a'], 3, (max) => full.push(max));
    expect(labels.of('b', true)).toBe('b');
    expect(labels.of('c', true)).toBe('c');
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      seen.add(labels.of(`random-${i}`, true));
      seen.add(labels.of(`refused-${i}`, false));
    }
    expect([...seen]).toEqual([OTHER_MODEL_LABEL]);
    expect(full).toEqual([3]);
    // The names labelled before keep their label.
    expect(['a', 'b', 'c'].map((m) => labels.of(m, false))).toEqual(['a', 'b', 'c']);
  });
});
