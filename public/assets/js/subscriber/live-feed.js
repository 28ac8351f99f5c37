// A live list of codes: a subscription of the client library shown in a
// CodeList, with the connection indicator, announcements for screen-reader
// users, the recent codes at the start and after a reset, and acks of the
// codes a person has had in view. The subscriber page and the embed both
// show their codes through it.

import { subscribe } from '/assets/client/index.js';
import { messageOf } from '../api.js';
import { announce } from '../dom.js';

// How many recent codes the list starts with, and reloads after a `reset`.
const RECENT = 50;

const STATUS_TEXT = {
  connecting: 'Connecting…',
  'catching-up': 'Catching up…',
  live: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  refused: 'Signed out',
  closed: 'Not connected',
};

/**
 * @typedef {'live' | 'replay' | 'history'} Delivery how a code reached the list. live: just published;
 *   replay: missed while away, sent on resume; history: one of the recent codes the list starts with, or reloads after a reset
 */

/**
 * Starts streaming codes into `list`. The token goes in the Authorization
 * header (SSE over fetch), never in a URL.
 * @param {{
 *   token: string,
 *   since?: number,
 *   list: import('./code-list.js').CodeList,
 *   status: HTMLElement,
 *   statusText: HTMLElement,
 *   notice: (text: string) => void,
 *   onShown?: (code: import('/assets/client/index.js').Code, delivery: Delivery) => void,
 *   onRevoke?: (id: number) => void,
 *   onReset?: (reset: import('/assets/client/index.js').Reset) => void,
 *   onState?: (state: import('/assets/client/index.js').ConnectionState, detail: import('/assets/client/index.js').StateDetail) => void,
 *   onError?: (error: import('/assets/client/index.js').CodecastClientError) => void,
 * }} options `since`: resume after this id (the replay fills the list) instead of starting with the recent codes;
 *   `onShown`: a code the list did not hold yet
 * @returns {{readonly lastId: number | undefined, close(): Promise<void>}}
 */
export function liveFeed(options) {
  const { list, status, statusText } = options;
  /** Codes shown while the page was hidden, acknowledged once it is seen. */
  let unacked = [];
  let loadedRecent = options.since !== undefined;
  let missedNow = 0;
  /**
   * Set by close(): the list may belong to a newer feed by now, or be hidden
   * (signed out), so nothing that was still loading may reach it.
   */
  let closed = false;

  /** Adds the newest codes before `lastId` that the list does not hold: at the start, and after a `reset`. */
  async function loadRecent(history, lastId) {
    let codes;
    try {
      codes = await history({ since: Math.max(0, lastId - RECENT), max: RECENT });
    } catch (error) {
      // Closed meanwhile: the request was cut on purpose, which is no news.
      if (!closed) options.notice(`Earlier codes could not be loaded: ${messageOf(error)}`);
      return;
    }
    if (closed) return;
    for (const code of codes) if (list.add(code)) options.onShown?.(code, 'history');
  }

  function ack(id) {
    if (document.visibilityState !== 'visible') {
      unacked.push(id);
      return;
    }
    // Tells the publisher this person has seen the code; a failure here
    // changes nothing for them.
    subscription.ack(id).catch(() => {});
  }
  function flushAcks() {
    if (document.visibilityState !== 'visible') return;
    const ids = unacked;
    unacked = [];
    for (const id of ids) if (list.has(id)) ack(id);
  }
  document.addEventListener('visibilitychange', flushAcks);

  const subscription = subscribe({
    token: options.token,
    since: options.since,
    onState(state, detail) {
      status.dataset.state = state;
      statusText.textContent = STATUS_TEXT[state] ?? state;
      status.title = detail.error?.message ?? '';
      if (state === 'live' && missedNow > 0) {
        announce(`${missedNow} missed ${missedNow === 1 ? 'code' : 'codes'} arrived.`);
        missedNow = 0;
      }
      options.onState?.(state, detail);
    },
    onHello(hello) {
      if (loadedRecent) return;
      loadedRecent = true;
      void loadRecent(subscription.history, Number(hello.lastId) || 0);
    },
    onCode(code, { replayed }) {
      if (!list.add(code, { fresh: true, missed: replayed })) return;
      if (replayed) missedNow++;
      else announce(`New code ${code.code}.`);
      options.onShown?.(code, replayed ? 'replay' : 'live');
      ack(code.id);
    },
    onRevoke(id) {
      list.revoke(id);
      options.onRevoke?.(id);
    },
    onReset(reset, { history }) {
      // Away longer than the server's history reaches: some codes may be
      // gone from the replay, so the list is rebuilt from the API.
      options.notice('You were away for a while, so the list was reloaded. Codes revoked or expired meanwhile are not shown.');
      list.clear();
      options.onReset?.(reset);
      void loadRecent(history, Number(reset.lastId) || 0);
    },
    onError: (error) => options.onError?.(error),
  });

  return {
    get lastId() {
      return subscription.lastId;
    },
    close() {
      closed = true;
      document.removeEventListener('visibilitychange', flushAcks);
      unacked = [];
      return subscription.close();
    },
  };
}
