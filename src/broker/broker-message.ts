import type { Code } from '../domain/index.js';
import type { BrokerMessage } from './broker.js';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;
const isText = (value: unknown): value is string => typeof value === 'string';
const isTextOrNull = (value: unknown): value is string | null => value === null || typeof value === 'string';

function isCode(value: unknown): value is Code {
  return (
    isObject(value) &&
    isId(value.id) &&
    isText(value.code) &&
    (value.value === null || typeof value.value === 'number') &&
    isTextOrNull(value.type) &&
    isTextOrNull(value.message) &&
    isText(value.publishedAt) &&
    isTextOrNull(value.expiresAt) &&
    isText(value.source)
  );
}

/**
 * A message read back from a shared server (a Redis stream entry's fields,
 * `m` holding the JSON), or undefined when it is not one this version knows:
 * another version of codecast, or another program, may write to the same
 * server, and what it wrote must not reach subscribers malformed.
 */
export function parseBrokerMessage(fields: readonly string[]): BrokerMessage | undefined {
  const at = fields.indexOf('m');
  if (at < 0 || at % 2 !== 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fields[at + 1] ?? '');
  } catch {
    return undefined;
  }
  if (!isObject(value) || !isText(value.node)) return undefined;
  const node = value.node;
  switch (value.type) {
    case 'code':
      return isCode(value.code) ? { type: 'code', node, code: value.code } : undefined;
    case 'revoke':
      return isId(value.id) ? { type: 'revoke', node, id: value.id } : undefined;
    case 'access':
      return isId(value.userId) && (value.tokenId === null || isId(value.tokenId))
        ? { type: 'access', node, userId: value.userId, tokenId: value.tokenId }
        : undefined;
    case 'settings':
      return { type: 'settings', node };
    default:
      return undefined;
  }
}
