// The subscriber page: sign in with a token, then watch codes arrive live.

import { subscribe } from '/assets/client/index.js';
import { messageOf } from '../api.js';
import { announce, byId } from '../dom.js';
import { Session, signInFlow } from '../session.js';
import { Alerts } from './alerts.js';
import { CodeList } from './code-list.js';

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

const session = new Session('codecast.token');
const view = byId('codes-view');
const status = byId('status');
const statusText = byId('status-text');
const notice = byId('notice');
const list = new CodeList(byId('codes'), byId('empty'));
const alerts = new Alerts(
  /** @type {HTMLInputElement} */ (byId('sound-toggle')),
  /** @type {HTMLInputElement} */ (byId('notify-toggle')),
  showNotice,
);

/** @type {import('/assets/client/index.js').Subscription | undefined} */
let subscription;
/** Codes shown while the page was hidden, acknowledged once it is seen. */
let unacked = [];
/** Replaced once signed in: acknowledges the codes that arrived while the tab was hidden. */
let flushAcks = () => {};

const flow = signInFlow({
  session,
  form: /** @type {HTMLFormElement} */ (byId('sign-in-form')),
  screen: byId('sign-in'),
  error: byId('sign-in-error'),
  onSignedIn: start,
});

byId('sign-out').addEventListener('click', () => stop());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') flushAcks();
});

function start(me, token) {
  byId('account-name').textContent = me.user.username;
  byId('account').hidden = false;
  status.hidden = false;
  view.hidden = false;
  notice.hidden = true;
  byId('main').focus({ preventScroll: true });

  let loadedRecent = false;

  /** Adds the newest codes before `lastId` that the list does not hold: at sign-in, and after a `reset`. */
  async function loadRecent(history, lastId) {
    try {
      const codes = await history({ since: Math.max(0, lastId - RECENT), max: RECENT });
      for (const code of codes) list.add(code);
    } catch (error) {
      showNotice(`Earlier codes could not be loaded: ${messageOf(error)}`);
    }
  }

  function ack(code) {
    if (document.visibilityState !== 'visible') {
      unacked.push(code.id);
      return;
    }
    // Tells the publisher this subscriber has seen the code; a failure here
    // changes nothing for the subscriber.
    subscription?.ack(code.id).catch(() => {});
  }
  flushAcks = () => {
    const ids = unacked;
    unacked = [];
    for (const id of ids) if (list.has(id)) ack({ id });
  };

  let missedNow = 0;
  // The token goes in the Authorization header (SSE over fetch), never in a URL.
  subscription = subscribe({
    token,
    onState(state, detail) {
      status.dataset.state = state;
      statusText.textContent = STATUS_TEXT[state] ?? state;
      status.title = detail.error?.message ?? '';
      if (state === 'live' && missedNow > 0) {
        announce(`${missedNow} missed ${missedNow === 1 ? 'code' : 'codes'} arrived.`);
        missedNow = 0;
      }
    },
    onHello(hello) {
      if (!loadedRecent && subscription) {
        loadedRecent = true;
        void loadRecent(subscription.history, Number(hello.lastId) || 0);
      }
    },
    onCode(code, { replayed }) {
      if (!list.add(code, { fresh: true, missed: replayed })) return;
      if (replayed) missedNow++;
      else announce(`New code ${code.code}.`);
      alerts.newCode(code);
      ack(code);
    },
    onRevoke(id) {
      list.revoke(id);
    },
    onReset(reset, { history }) {
      // Away longer than the server's history reaches: some codes may be
      // gone from the replay, so the list is rebuilt from the API.
      showNotice('You were away for a while, so the list was reloaded. Codes revoked or expired meanwhile are not shown.');
      list.clear();
      void loadRecent(history, Number(reset.lastId) || 0);
    },
    onError(error) {
      if (!error.final) return;
      // 401 here means the token stopped working mid-session: revoked, most likely.
      stop(error.status === 401 ? 'Your token no longer works (it may have been revoked). Sign in with a new one.' : error.message);
    },
  });
}

function stop(reason) {
  void subscription?.close();
  subscription = undefined;
  unacked = [];
  list.clear();
  view.hidden = true;
  status.hidden = true;
  byId('account').hidden = true;
  flow.signOut(reason);
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
}
