import type { FastifyPluginAsync } from 'fastify';

/** The pages codecast serves itself: `/` for subscribers, `/admin` for operators. */
export const webRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send('codecast'));
  app.get('/admin', async (_request, reply) => reply.type('text/html; charset=utf-8').send('codecast admin'));
};
