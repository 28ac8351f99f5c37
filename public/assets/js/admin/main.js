// The admin page: sign in with an admin token, then publish, watch, and manage.

import { subscribe } from '/assets/client/index.js';
import { apiClient, messageOf } from '../api.js';
import { byId } from '../dom.js';
import { Session, signInFlow } from '../session.js';
import { AuditPanel } from './audit-panel.js';
import { CodesTable } from './codes-table.js';
import { LiveCharts } from './live-charts.js';
import { PublishForm } from './publish.js';
import { showNodes } from './nodes-table.js';
import { showServerFigures } from './server-figures.js';
import { SettingsPanel } from './settings-panel.js';
import { StatsPoller } from './stats-poller.js';
import { setUpTabs } from './tabs.js';
import { UsersPanel } from './users-panel.js';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  'catching-up': 'Live feed catching up…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  refused: 'Signed out',
  closed: 'Not connected',
};

const session = new Session('codecast.admin.token');
const app = byId('app');
const appError = byId('app-error');
const api = apiClient(() => session.token, {
  onUnauthorized: () => queueMicrotask(() => signOut('Your admin token no longer works. Sign in again.')),
});

/** The page's parts, built at the first sign-in and kept for later ones. */
let parts;
/** The live feed of codes while signed in. @type {import('/assets/client/index.js').Subscription | undefined} */
let stream;

const flow = signInFlow({
  session,
  form: /** @type {HTMLFormElement} */ (byId('sign-in-form')),
  screen: byId('sign-in'),
  error: byId('sign-in-error'),
  requireAdmin: true,
  onSignedIn: start,
});

byId('sign-out').addEventListener('click', () => signOut());

function build() {
  const poller = new StatsPoller(api, (error) => {
    appError.hidden = error === null;
    if (error !== null) appError.textContent = `Live figures are not updating: ${messageOf(error)}`;
  });
  const codes = new CodesTable(api, {
    table: /** @type {HTMLTableElement} */ (byId('codes-table')),
    empty: byId('codes-empty'),
    older: /** @type {HTMLButtonElement} */ (byId('codes-older')),
    error: byId('codes-error'),
  });
  const publish = new PublishForm(
    api,
    {
      form: /** @type {HTMLFormElement} */ (byId('publish-form')),
      audience: byId('audience'),
      error: byId('publish-error'),
      result: byId('publish-result'),
    },
    (code) => {
      codes.addLive(code);
      poller.refresh();
    },
  );
  const charts = new LiveCharts(byId('charts'));
  const users = new UsersPanel(api, {
    form: /** @type {HTMLFormElement} */ (byId('user-form')),
    table: /** @type {HTMLTableElement} */ (byId('users-table')),
    error: byId('users-error'),
    newToken: byId('new-token'),
    detail: byId('user-detail'),
  });
  const settings = new SettingsPanel(api, {
    form: /** @type {HTMLFormElement} */ (byId('settings-form')),
    message: byId('settings-message'),
  });
  const audit = new AuditPanel(api, {
    table: /** @type {HTMLTableElement} */ (byId('audit-table')),
    older: /** @type {HTMLButtonElement} */ (byId('audit-older')),
    error: byId('audit-error'),
  });
  poller.listen((stats, at) => {
    charts.push(stats, at);
    publish.showAudience(stats);
    showServerFigures(byId('server-figures'), stats);
    showNodes({ body: byId('nodes-body'), foot: byId('nodes-totals'), note: byId('nodes-note') }, stats);
  });

  // The newest code id, which the history pages back from.
  const newestId = async () => {
    const stats = poller.latest ?? (await api.get('/stats').catch(() => undefined));
    return Math.max(stats?.codes?.lastId ?? 0, stream?.lastId ?? 0);
  };
  const tabs = setUpTabs(byId('tabs'), (name) => {
    if (name === 'codes') void newestId().then((id) => codes.reload(id));
    else if (name === 'users') void users.load();
    else if (name === 'settings') void settings.load();
    else if (name === 'audit') void audit.load();
  });
  byId('codes-refresh').addEventListener('click', () => void newestId().then((id) => codes.reload(id)));
  byId('audit-refresh').addEventListener('click', () => void audit.load());
  return { poller, codes, tabs };
}

function start(me, token) {
  byId('account-name').textContent = me.user.username;
  for (const id of ['account', 'tabs-nav', 'status', 'app']) byId(id).hidden = false;
  appError.hidden = true;
  parts ??= build();
  parts.poller.start();

  // The live feed keeps the history current whoever publishes or revokes:
  // another admin, the CLI, or a script.
  const { codes } = parts;
  stream = subscribe({
    token,
    onState(state, detail) {
      const status = byId('status');
      status.dataset.state = state;
      byId('status-text').textContent = STATUS_TEXT[state] ?? state;
      status.title = detail.error?.message ?? 'The live feed of codes';
    },
    onCode: (code) => codes.addLive(code),
    onRevoke: (id) => codes.markRevoked(id),
    onError: (error) => {
      if (error.final) signOut(error.message);
    },
  });
  parts.tabs.show(location.hash.slice(1) || 'overview');
  byId('main').focus({ preventScroll: true });
}

function signOut(reason) {
  if (!stream && app.hidden) return;
  parts?.poller.stop();
  void stream?.close();
  stream = undefined;
  for (const id of ['account', 'tabs-nav', 'status', 'app']) byId(id).hidden = true;
  flow.signOut(reason);
}
