// Every live node of the deployment, from the `deployment` part of each
// /stats sample: one row per node and the totals. One process alone is a
// deployment of one node.

import { h, replaceChildren } from '../dom.js';
import { formatBytes, formatInteger } from '../format.js';

/** Seconds since an ISO time, as "3 s ago". */
function age(iso, now) {
  const ms = now - Date.parse(iso);
  return Number.isFinite(ms) ? `${Math.max(0, Math.round(ms / 1000))} s ago` : '—';
}

const byTransport = (counts) =>
  `SSE ${formatInteger(counts?.sse ?? 0)} · WS ${formatInteger(counts?.ws ?? 0)} · Socket.IO ${formatInteger(counts?.socketio ?? 0)}`;

/**
 * @param {{ body: HTMLElement, foot: HTMLElement, note: HTMLElement }} parts the table's tbody and tfoot, and a note below it
 * @param {any} stats a /stats sample
 */
export function showNodes(parts, stats, now = Date.now()) {
  const deployment = stats.deployment;
  if (!deployment) return;
  replaceChildren(
    parts.body,
    ...deployment.nodes.map((node) =>
      h(
        'tr',
        {},
        h(
          'th',
          { scope: 'row', title: node.node },
          node.node.slice(0, 8),
          node.node === stats.node ? h('span', { class: 'hint', text: ' (this node)' }) : null,
        ),
        h('td', { text: `${node.host} · pid ${node.pid}` }),
        h('td', { class: 'num', text: formatInteger(node.connections.total), title: byTransport(node.connections.byTransport) }),
        h('td', { class: 'num', text: formatInteger(node.usersOnline) }),
        h('td', { class: 'num', text: formatBytes(node.memory.rss) }),
        h('td', { class: 'num', text: age(node.heartbeatAt, now) }),
      ),
    ),
  );
  const totals = deployment.totals;
  replaceChildren(
    parts.foot,
    h(
      'tr',
      {},
      h('th', { scope: 'row', text: `${formatInteger(totals.nodes)} ${totals.nodes === 1 ? 'node' : 'nodes'}` }),
      h('td', { text: byTransport(totals.connections.byTransport) }),
      h('td', { class: 'num', text: formatInteger(totals.connections.total) }),
      h('td', { class: 'num', text: formatInteger(totals.usersOnline) }),
      h('td', { class: 'num', text: formatBytes(totals.memory.rss) }),
      h('td', {}),
    ),
  );
  parts.note.hidden = deployment.complete;
  parts.note.textContent = deployment.complete ? '' : 'Redis cannot be read: the other nodes as last seen.';
}
