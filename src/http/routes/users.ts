import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UserAdmin } from '../../users/index.js';
import { principalOf, type AuthHooks } from '../../edge/index.js';
import { CreateTokenBody, CreateUserBody, UpdateUserBody, UsernameParams } from '../schemas.js';

export interface UserRoutesOptions {
  readonly auth: AuthHooks;
  readonly users: UserAdmin;
}

/** Users and their tokens (admin), and `GET /me` for any user. */
export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (app, { auth, users }) => {
  app.get('/me', { onRequest: auth.user, schema: { tags: ['users'], summary: 'The caller' } }, async (request) => {
    const { user, tokenId } = principalOf(request);
    return { user, tokenId };
  });

  app.post(
    '/users',
    { onRequest: auth.admin, schema: { tags: ['users'], summary: 'Create a user and its first token', body: CreateUserBody } },
    async (request, reply) => {
      const { username, role = 'user' } = request.body;
      const created = await users.create(username, role, principalOf(request));
      return reply.code(201).send(created);
    },
  );

  app.get('/users', { onRequest: auth.admin, schema: { tags: ['users'], summary: 'List users' } }, async () => ({
    users: await users.list(),
  }));

  app.get(
    '/users/:username',
    { onRequest: auth.admin, schema: { tags: ['users'], summary: 'One user and its tokens', params: UsernameParams } },
    async (request) => {
      const user = await users.get(request.params.username);
      return { user, tokens: await users.tokens(user.username) };
    },
  );

  app.patch(
    '/users/:username',
    {
      onRequest: auth.admin,
      schema: { tags: ['users'], summary: 'Disable, enable or change the role of a user', params: UsernameParams, body: UpdateUserBody },
    },
    async (request) => ({ user: await users.update(request.params.username, request.body, principalOf(request)) }),
  );

  app.post(
    '/users/:username/tokens',
    // No body at all is fine: Fastify validates a missing body as null.
    {
      onRequest: auth.admin,
      schema: {
        tags: ['users'],
        summary: 'Create another token for a user',
        params: UsernameParams,
        body: Type.Union([CreateTokenBody, Type.Null()]),
      },
    },
    async (request, reply) => {
      const token = await users.createToken(request.params.username, request.body?.label ?? null, principalOf(request));
      return reply.code(201).send({ token });
    },
  );

  app.delete(
    '/tokens/:id',
    {
      onRequest: auth.admin,
      schema: { tags: ['users'], summary: 'Revoke a token', params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) },
    },
    async (request) => {
      await users.revokeToken(request.params.id, principalOf(request));
      return { id: request.params.id, revoked: true };
    },
  );
};
