import { createHash } from 'node:crypto';

/**
 * The built-in model used when no upstream is configured: it answers with the last user message.
 * It counts tokens honestly enough to try limits, budgets and usage without any upstream: a
 * token is a whitespace-separated word.
 */
export const ECHO_MODEL = 'tessera-echo';

/** A message's text: a string, or the text parts of a multimodal content array. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : ''))
      .join(' ');
  return '';
}

export function echoReply(messages: ReadonlyArray<{ role: string; content?: unknown }>): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return lastUser ? textOf(lastUser.content) : '';
}

/** Whitespace-separated words: the echo model's token count. */
export function countWords(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** Prompt tokens of a chat request: the words of every message's content. */
export function promptWords(messages: ReadonlyArray<{ content?: unknown }>): number {
  return messages.reduce((sum, m) => sum + countWords(textOf(m.content)), 0);
}

/** A deterministic unit vector for `text` (8 dimensions): enough to try the embeddings route. */
export function echoEmbedding(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const raw = Array.from({ length: 8 }, (_, i) => digest.readInt16BE(i * 2) / 32768);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Number((v / norm).toFixed(6)));
}
