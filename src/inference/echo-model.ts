/** The built-in model used when UPSTREAM_URL is unset: it answers with the last user message. */
export const ECHO_MODEL = 'tessera-echo';

export function echoReply(messages: Array<{ role: string; content: string }>): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return lastUser ? lastUser.content : '';
}
