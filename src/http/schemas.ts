import { Type } from 'typebox';
import { CODE_MAX_CHARS, LABEL_MAX_CHARS, MESSAGE_MAX_CHARS, TTL_MAX_SECONDS } from '../domain/index.js';

// Request schemas: types and bounds here, finer rules (printable, trimmed)
// in the domain, so a wrong type is a 400 before any business logic runs.

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export const PublishBody = Type.Object(
  {
    // Lengths are checked again in characters after trimming; these bounds
    // only stop absurd input early (a character may be two UTF-16 units).
    code: Type.String({ maxLength: CODE_MAX_CHARS * 4 }),
    value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    type: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    message: Type.Optional(Type.Union([Type.String({ maxLength: MESSAGE_MAX_CHARS * 4 }), Type.Null()])),
    ttlSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: TTL_MAX_SECONDS }), Type.Null()])),
    source: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const ListCodesQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  all: Type.Optional(Type.Boolean()),
});

export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);

export const CreateUserBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), role: Type.Optional(Role) },
  { additionalProperties: false },
);

export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });

export const UpdateUserBody = Type.Object(
  { disabled: Type.Optional(Type.Boolean()), role: Type.Optional(Role) },
  { additionalProperties: false, minProperties: 1 },
);

export const CreateTokenBody = Type.Object(
  { label: Type.Optional(Type.Union([Type.String({ maxLength: LABEL_MAX_CHARS * 4 }), Type.Null()])) },
  { additionalProperties: false },
);

export const SettingsBody = Type.Object(
  {
    dedupCaseInsensitive: Type.Optional(Type.Boolean()),
    defaultValue: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  },
  { additionalProperties: false },
);

export const AuditQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  before: Type.Optional(Type.Integer({ minimum: 1 })),
});
