import type { FastifyReply } from 'fastify';

export function noStore(reply: FastifyReply): void {
  // RFC 6749 §5.1: token responses must not be cached.
  reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}
