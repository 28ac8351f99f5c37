import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { UserBudgets, type Acknowledger, type InboundBudget, type Publisher } from '../../hub/index.js';
import { CodecastError, publicCode } from '../../domain/index.js';
import type { AckFigures, CodeRecord } from '../../store/index.js';
import { principalOf, type AuthHooks } from '../../edge/index.js';
import { IdParams, ListCodesQuery, PublishBody } from '../schemas.js';

export interface CodeRoutesOptions {
  readonly auth: AuthHooks;
  readonly publisher: Publisher;
  readonly acknowledger: Acknowledger;
  /** How many acks one user may send over HTTP, all of its clients together. */
  readonly ackBudget: InboundBudget;
  readonly codes: CodeReads;
}

/** The stored codes, as these routes read them. */
export interface CodeReads {
  list(options: { since: number; limit: number; includeInactive: boolean; nowMs: number }): Promise<CodeRecord[]>;
  byId(id: number): Promise<CodeRecord | undefined>;
  ackFigures(codeId: number): Promise<AckFigures>;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** Publish, list, inspect, revoke and ack codes. */
export const codeRoutes: FastifyPluginAsyncTypebox<CodeRoutesOptions> = async (
  app,
  { auth, publisher, acknowledger, ackBudget, codes },
) => {
  const ackBudgets = new UserBudgets(ackBudget);

  app.post(
    '/codes',
    {
      onRequest: auth.admin,
      schema: { tags: ['codes'], summary: 'Publish a code (admin); Idempotency-Key header supported', body: PublishBody },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
        throw new CodecastError('invalid_request', 'Idempotency-Key must be 1-200 visible ASCII characters.');
      }
      const result = await publisher.publish(request.body, principalOf(request), key);
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(result.replayed ? 200 : 201).send({ code: result.code, audience: result.audience });
    },
  );

  app.get(
    '/codes',
    { onRequest: auth.user, schema: { tags: ['codes'], summary: 'Codes after `since`, oldest first', querystring: ListCodesQuery } },
    async (request) => {
      const { since = 0, limit = 100, all = false } = request.query;
      if (all && principalOf(request).user.role !== 'admin') {
        throw new CodecastError('forbidden', 'Only an admin may list revoked and expired codes.');
      }
      const records = await codes.list({ since, limit, includeInactive: all, nowMs: Date.now() });
      return { codes: all ? records : records.map(publicCode) };
    },
  );

  app.get(
    '/codes/:id',
    { onRequest: auth.admin, schema: { tags: ['codes'], summary: 'One code with its delivery and ack figures (admin)', params: IdParams } },
    async (request) => {
      const record = await codes.byId(request.params.id);
      if (!record) throw new CodecastError('code_not_found');
      // Acks wait in memory for up to a flush period: written first, the
      // figures include every ack answered so far.
      await acknowledger.flush();
      const acks = await codes.ackFigures(record.id);
      const { delivered, replayed, ...code } = record;
      const total = delivered.sse + delivered.ws + delivered.socketio;
      return { code, delivery: { total, byTransport: delivered, replayed }, acks };
    },
  );

  app.delete(
    '/codes/:id',
    { onRequest: auth.admin, schema: { tags: ['codes'], summary: 'Revoke a code (admin)', params: IdParams } },
    async (request) => {
      const code = await publisher.revoke(request.params.id, principalOf(request));
      return { code, revoked: true };
    },
  );

  app.post(
    '/codes/:id/ack',
    // No body at all is fine: Fastify validates a missing body as null.
    {
      onRequest: auth.user,
      schema: {
        tags: ['codes'],
        summary: 'Acknowledge a code (once per user)',
        params: IdParams,
        body: Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()]),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const waitMs = ackBudgets.spend(principal.user.id, Date.now());
      if (waitMs > 0) {
        throw new CodecastError(
          'too_many_messages',
          `Acks of one user over HTTP: at most ${ackBudget.burst} at once and ${ackBudget.ratePerSecond} per second.`,
          undefined,
          Math.ceil(waitMs / 1000),
        );
      }
      return acknowledger.ack(request.params.id, principal);
    },
  );
};
