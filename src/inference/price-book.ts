import { compileGlobs, ModelPrice } from '../config/policy/gateway-policy';

interface CompiledPrice {
  matches: (model: string) => boolean;
  input: number;
  output: number;
}

/**
 * The policy's `gateway.prices` (USD per 1M tokens, by model glob; the first matching entry
 * wins). A model without a price costs 0. Looked up once per model id, then cached.
 */
export class PriceBook {
  private readonly prices: CompiledPrice[];
  private readonly cache = new Map<string, { input: number; output: number }>();

  constructor(prices: readonly ModelPrice[]) {
    this.prices = prices.map((p) => ({
      matches: compileGlobs([p.model]),
      input: p.input,
      output: p.output,
    }));
  }

  get empty(): boolean {
    return this.prices.length === 0;
  }

  priceOf(model: string): { input: number; output: number } {
    let price = this.cache.get(model);
    if (!price) {
      const found = this.prices.find((p) => p.matches(model));
      price = { input: found?.input ?? 0, output: found?.output ?? 0 };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(model, price);
    }
    return price;
  }

  /** USD for the given tokens of `model`. */
  costOf(model: string, promptTokens: number, completionTokens: number): number {
    const price = this.priceOf(model);
    return (promptTokens * price.input + completionTokens * price.output) / 1_000_000;
  }
}
