import type { FastifyReply } from 'fastify';

/**
 * The headers of every HTML page codecast serves itself: its policy, no
 * referrer (the pages' own requests tell no one where they came from), no
 * sniffing, and revalidation, so a new version is picked up at once.
 */
export function setPageHeaders(reply: FastifyReply, contentSecurityPolicy: string): FastifyReply {
  return reply
    .header('content-security-policy', contentSecurityPolicy)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-cache');
}
