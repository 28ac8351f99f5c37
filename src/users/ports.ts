import type { Principal, Role, User } from '../domain/index.js';
import type { AuditInput, AuthEvent, AuthEventKind, TokenInfo } from '../store/index.js';

// What users/ asks of the database, method by method: the store satisfies
// these structurally and the composition root (or the CLI) passes it, so
// users/ imports nothing from the store but types. A method that cannot
// reach the database rejects with `DatabaseUnavailableError`.

/** The principal behind a token hash, undefined when the token is unknown or revoked. */
export type PrincipalLoader = (tokenHash: string) => Promise<Principal | undefined>;

/** Reads of users and tokens. */
export interface UserReads {
  byName(username: string): Promise<User | undefined>;
  byId(id: number): Promise<User | undefined>;
  list(): Promise<User[]>;
  tokensOf(userId: number): Promise<TokenInfo[]>;
  tokenExists(tokenId: number): Promise<boolean>;
}

/** The writes of one change of access, made together in one transaction. */
export interface AccessWrites {
  readonly users: {
    create(username: string, role: Role, now: Date): Promise<User | undefined>;
    update(id: number, change: { disabled?: boolean; role?: Role }): Promise<User | undefined>;
    addToken(userId: number, hash: string, label: string | null, now: Date): Promise<TokenInfo>;
    revokeToken(tokenId: number, now: Date): Promise<{ userId: number } | undefined>;
  };
  readonly authEvents: { record(kind: AuthEventKind, userId: number, tokenId: number | null, nowMs: number): Promise<void> };
  readonly audit: { record(entry: AuditInput, now: Date): Promise<void> };
}

/** Users and tokens as user administration reads and changes them. */
export interface UserDirectory {
  readonly users: Pick<UserReads, 'byName' | 'list' | 'tokensOf' | 'tokenExists'>;
  /** Runs `work` in one transaction: the change, its auth event and its audit entry land together. */
  transaction<T>(work: (tx: AccessWrites) => Promise<T>): Promise<T>;
}

/** What making a user on its first JWT reads and writes. */
export interface JwtUserStore {
  readonly users: Pick<UserReads, 'byName'>;
  transaction: UserDirectory['transaction'];
}

/** The principal of a JWT's subject, its user made first if there is none. */
export type SubjectLoader = (username: string) => Promise<Principal>;

/** Changes of access made anywhere (this process, the CLI, another node), in order. */
export interface AccessChangeFeed {
  readonly authEvents: {
    lastId(): Promise<number>;
    after(id: number): Promise<AuthEvent[]>;
  };
  readonly users: Pick<UserReads, 'byId'>;
}

/** What making the first admin reads, under a lock every process sharing the database respects. */
export interface FirstAdminStore {
  /** Runs `work` while no other process sharing the database runs work under the same lock. */
  exclusively<T>(work: () => Promise<T>): Promise<T>;
  readonly users: Pick<UserReads, 'byName'> & { countAdmins(): Promise<number> };
}
