// Every HTTP request that writes to the database (acks aside: they are
// batched in memory), each aimed at something prepared beforehand, so a
// storage-fault test can send all of them while the fault lasts and the
// very same requests again after it: a request refused during the fault
// must have changed nothing, so its repeat succeeds as if it were the first.
import type { ApiResponse, TestServer } from './server.js';

export interface WritePath {
  readonly name: string;
  /** The status the request answers when the database takes writes. */
  readonly okStatus: number;
  send(): Promise<ApiResponse>;
}

export interface WriteTargets {
  /** A live code to revoke. */
  readonly codeId: number;
  /** A user to disable. */
  readonly username: string;
  /** A live token (not the admin's) to revoke. */
  readonly tokenId: number;
}

/** Prepares what the write paths act on; call while the database is healthy. */
export async function prepareWriteTargets(t: TestServer, tag: string): Promise<WriteTargets> {
  const { id: codeId } = await t.publish(`TARGET-${tag}`);
  const user = await t.createUser(`target-${tag}`);
  return { codeId, username: `target-${tag}`, tokenId: user.tokenId };
}

export function writePaths(t: TestServer, targets: WriteTargets, tag: string): WritePath[] {
  const path = (name: string, okStatus: number, send: () => Promise<ApiResponse>): WritePath => ({ name, okStatus, send });
  return [
    path('POST /codes', 201, () =>
      t.api('POST', '/api/v1/codes', { body: { code: `FAULT-${tag}` }, headers: { 'idempotency-key': `fault-${tag}` } }),
    ),
    path('DELETE /codes/:id', 200, () => t.api('DELETE', `/api/v1/codes/${targets.codeId}`)),
    path('POST /users', 201, () => t.api('POST', '/api/v1/users', { body: { username: `new-${tag}` } })),
    path('PATCH /users/:username', 200, () => t.api('PATCH', `/api/v1/users/${targets.username}`, { body: { disabled: true } })),
    path('POST /users/:username/tokens', 201, () =>
      t.api('POST', `/api/v1/users/${targets.username}/tokens`, { body: { label: `extra-${tag}` } }),
    ),
    path('DELETE /tokens/:id', 200, () => t.api('DELETE', `/api/v1/tokens/${targets.tokenId}`)),
    path('PUT /settings', 200, () => t.api('PUT', '/api/v1/settings', { body: { defaultValue: 7 } })),
  ];
}
