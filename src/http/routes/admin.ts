import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RuntimeSettings } from '../../hub/index.js';
import type { AuditEntry } from '../../store/index.js';
import { principalOf, type AuthHooks } from '../../edge/index.js';
import { AuditQuery, SettingsBody } from '../schemas.js';

export interface AdminRoutesOptions {
  readonly auth: AuthHooks;
  readonly settings: RuntimeSettings;
  /** The audit trail, newest first. */
  readonly audit: { list(limit: number, before?: number): Promise<AuditEntry[]> };
  readonly stats: () => unknown;
}

/** Runtime settings, stats and the audit trail. */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, { auth, settings, audit, stats }) => {
  app.get('/settings', { onRequest: auth.admin, schema: { tags: ['admin'], summary: 'Runtime settings' } }, async () => settings.values);

  app.put(
    '/settings',
    { onRequest: auth.admin, schema: { tags: ['admin'], summary: 'Change runtime settings', body: SettingsBody } },
    async (request) => settings.update(request.body, principalOf(request).user.username),
  );

  app.get(
    '/stats',
    { onRequest: auth.admin, schema: { tags: ['admin'], summary: 'Connections, queues, closes, cache, codes, memory' } },
    async () => stats(),
  );

  app.get(
    '/audit',
    { onRequest: auth.admin, schema: { tags: ['admin'], summary: 'The audit trail, newest first', querystring: AuditQuery } },
    async (request) => ({
      entries: await audit.list(request.query.limit ?? 100, request.query.before),
    }),
  );
};
