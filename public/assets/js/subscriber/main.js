// The subscriber page: sign in with a token, then watch codes arrive live.

import { byId } from '../dom.js';
import { Session, signInFlow } from '../session.js';
import { Alerts } from './alerts.js';
import { CodeList } from './code-list.js';
import { liveFeed } from './live-feed.js';

const session = new Session('codecast.token');
const view = byId('codes-view');
const status = byId('status');
const notice = byId('notice');
const list = new CodeList(byId('codes'), byId('empty'));
const alerts = new Alerts(
  /** @type {HTMLInputElement} */ (byId('sound-toggle')),
  /** @type {HTMLInputElement} */ (byId('notify-toggle')),
  showNotice,
);

/** @type {ReturnType<typeof liveFeed> | undefined} */
let feed;

const flow = signInFlow({
  session,
  form: /** @type {HTMLFormElement} */ (byId('sign-in-form')),
  screen: byId('sign-in'),
  error: byId('sign-in-error'),
  onSignedIn: start,
});

byId('sign-out').addEventListener('click', () => stop());

function start(me, token) {
  byId('account-name').textContent = me.user.username;
  byId('account').hidden = false;
  status.hidden = false;
  view.hidden = false;
  notice.hidden = true;
  byId('main').focus({ preventScroll: true });

  feed = liveFeed({
    token,
    list,
    status,
    statusText: byId('status-text'),
    notice: showNotice,
    onShown(code, delivery) {
      if (delivery !== 'history') alerts.newCode(code);
    },
    onError(error) {
      if (!error.final) return;
      // 401 here means the token stopped working mid-session: revoked, most likely.
      stop(error.status === 401 ? 'Your token no longer works (it may have been revoked). Sign in with a new one.' : error.message);
    },
  });
}

function stop(reason) {
  void feed?.close();
  feed = undefined;
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
