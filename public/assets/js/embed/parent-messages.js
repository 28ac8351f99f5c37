// What the page that frames the embed may tell it, checked before anything
// is done with it: a message that does not fit is answered with a
// codecast:error and otherwise ignored.

import { normaliseAccent, THEMES } from './look.js';

/** A bearer token: an opaque `cc_…` token or a JWT, printable ASCII without spaces. */
const TOKEN = /^[\x21-\x7e]{1,8192}$/;

/**
 * @typedef {{type: 'token', token: string, since: number | undefined}
 *   | {type: 'theme', theme: string | undefined, accent: string | null | undefined}
 *   | {type: 'close'}
 *   | {type: 'invalid', message: string}} ParentMessage
 */

/**
 * Reads one message of the parent (an object whose `type` starts with `codecast:`).
 * @param {Record<string, unknown>} data
 * @returns {ParentMessage}
 */
export function parseParentMessage(data) {
  switch (data.type) {
    case 'codecast:token': {
      const { token, since } = data;
      if (typeof token !== 'string' || !TOKEN.test(token)) {
        return invalid('codecast:token needs `token`: the bearer token, a string of printable characters without spaces.');
      }
      if (since !== undefined && since !== null && !(Number.isSafeInteger(since) && since >= 0)) {
        return invalid('`since` must be the id of the last code seen: an integer, 0 or more.');
      }
      return { type: 'token', token, since: since ?? undefined };
    }
    case 'codecast:theme': {
      const { theme, accent } = data;
      if (theme !== undefined && !THEMES.includes(theme)) return invalid('`theme` must be auto, light or dark.');
      const color = accent === undefined || accent === null ? accent : normaliseAccent(accent);
      if (color === undefined && accent !== undefined) {
        return invalid('`accent` must be a colour of 3 or 6 hex digits, # optional (such as #0a7d38), or null for the default.');
      }
      return { type: 'theme', theme, accent: color };
    }
    case 'codecast:close':
      return { type: 'close' };
    default:
      return invalid(
        `Unknown message type "${String(data.type).slice(0, 64)}": the embed takes codecast:token, codecast:theme and codecast:close.`,
      );
  }
}

function invalid(message) {
  return { type: 'invalid', message };
}
