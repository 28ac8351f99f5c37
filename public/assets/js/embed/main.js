// The embed (`/embed`): the live list of codes in another site's iframe.
// It takes its token from the page that frames it, by postMessage, never
// from its URL, and tells that page, and no other, about each code, revoke,
// reset and change of connection state. docs/PROTOCOL.md has the messages.

import { byId } from '../dom.js';
import { CodeList } from '../subscriber/code-list.js';
import { liveFeed } from '../subscriber/live-feed.js';
import { applyLook } from './look.js';
import { ParentChannel } from './parent-channel.js';
import { parseParentMessage } from './parent-messages.js';

/** The version of the messages; `codecast:ready` says it. */
const PROTOCOL_VERSION = 1;

const root = document.documentElement;
const status = byId('status');
const statusText = byId('status-text');
const notice = byId('notice');
const list = new CodeList(byId('codes'), byId('empty'));

// The server has checked the URL's theme and accent, and written them here.
applyLook(root, { theme: root.dataset.theme, accent: root.dataset.accent || undefined });

/**
 * The running feed, and whether it was replaced by a newer token (then what
 * it says on its way out, its `closed`, is not passed on).
 * @type {{feed: ReturnType<typeof liveFeed>, retired: boolean} | undefined}
 */
let current;
/** Messages are handled one at a time: a feed being replaced is closed before the next starts. */
let queue = Promise.resolve();

/** @type {ParentChannel | undefined} */
let channel;
if (window.parent === window) {
  // Opened on its own (or by window.open): no parent to take a token from,
  // and an opener is not listened to.
  statusText.textContent = 'Not embedded';
  showNotice('This page shows the live codes inside another site’s page, which signs it in. Open codecast’s own page to see them here.');
} else {
  channel = new ParentChannel({
    parents: document.querySelector('meta[name="codecast-parent-origins"]')?.getAttribute('content') ?? '',
    nonce: root.dataset.nonce || undefined,
    onMessage,
  });
  channel.post('codecast:ready', { version: PROTOCOL_VERSION });
}

function onMessage(data) {
  const message = parseParentMessage(data);
  if (message.type === 'invalid') {
    channel?.post('codecast:error', { error: 'invalid_request', message: message.message, final: false });
    return;
  }
  const handled = queue.then(() => handle(message));
  // The next message waits for this one to end, not to succeed: a rejected
  // link would hold every later message (a new token, a close) for ever.
  queue = handled.catch(() => undefined);
  handled.catch(reportFailure);
}

/** A message the embed failed to carry out: the parent hears it, the frame shows it. */
function reportFailure(error) {
  const text = error instanceof Error ? error.message : String(error);
  channel?.post('codecast:error', { error: 'embed_error', message: `The embed could not do that: ${text}`, final: false });
  showNotice(`Something went wrong in the embed: ${text}`);
}

async function handle(message) {
  if (message.type === 'theme') {
    applyLook(root, message);
    return;
  }
  const previous = current;
  current = undefined;
  if (previous) {
    previous.retired = message.type === 'token';
    await previous.feed.close();
  }
  if (message.type === 'close') {
    list.clear();
    return;
  }
  notice.hidden = true;
  // A new token (a JWT renewed, another user) carries on from the last code shown.
  current = start(message.token, message.since ?? previous?.feed.lastId);
}

function start(token, since) {
  const entry = { retired: false, feed: undefined };
  const tell = (type, data, extra) => {
    if (!entry.retired) channel?.post(type, data, extra);
  };
  entry.feed = liveFeed({
    token,
    since,
    list,
    status,
    statusText,
    notice: showNotice,
    onShown: (code, delivery) => tell('codecast:code', code, { delivery }),
    onRevoke: (id) => tell('codecast:revoke', { id }),
    onReset: (reset) => tell('codecast:reset', { oldestId: reset.oldestId, lastId: reset.lastId }),
    onState(state, detail) {
      const data = { state };
      if (detail.retryInMs !== undefined) data.retryInMs = detail.retryInMs;
      if (detail.error) data.error = { error: detail.error.code, message: detail.error.message };
      tell('codecast:state', data);
    },
    onError(error) {
      const data = { error: error.code, message: error.message, final: error.final };
      if (error.status !== undefined) data.status = error.status;
      if (error.retryAfterMs !== undefined) data.retryAfterMs = error.retryAfterMs;
      tell('codecast:error', data);
      if (error.final) showNotice(`The codes cannot be shown: ${error.message}`);
    },
  });
  return entry;
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
}
