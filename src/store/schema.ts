import type { Generated } from 'kysely';

/** Table shapes as the database holds them; the repositories map them to domain types. */
export interface Database {
  users: {
    id: Generated<number>;
    username: string;
    role: string;
    disabled: number;
    created_at: string;
  };
  tokens: {
    id: Generated<number>;
    user_id: number;
    hash: string;
    label: string | null;
    created_at: string;
    revoked_at: string | null;
  };
  codes: {
    id: Generated<number>;
    code: string;
    dedup_key: string;
    value: number | null;
    type: string | null;
    message: string | null;
    source: string;
    published_at: string;
    published_at_ms: number;
    expires_at: string | null;
    revoked_at: string | null;
    published_by: number | null;
    delivered_sse: Generated<number>;
    delivered_ws: Generated<number>;
    delivered_socketio: Generated<number>;
    replayed: Generated<number>;
  };
  acks: {
    code_id: number;
    user_id: number;
    acked_at: string;
    latency_ms: number;
  };
  idempotency_keys: {
    key: string;
    request_hash: string;
    code_id: number;
    user_id: number;
    created_at_ms: number;
  };
  settings: {
    key: string;
    value: string;
  };
  audit_log: {
    id: Generated<number>;
    at: string;
    actor: string | null;
    action: string;
    target: string | null;
    details: string | null;
  };
  auth_events: {
    id: Generated<number>;
    at_ms: number;
    kind: string;
    user_id: number;
    token_id: number | null;
  };
  write_probe: {
    id: number;
    at_ms: number;
  };
}
