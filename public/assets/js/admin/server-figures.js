// The server's key figures beside the publish form, from each /stats sample.

import { h, replaceChildren } from '../dom.js';
import { formatBytes, formatDuration, formatInteger } from '../format.js';

/** @param {HTMLElement} list a <dl> @param {any} stats */
export function showServerFigures(list, stats) {
  const ratio = stats.userCache?.hitRatio;
  const rows = [
    ['Up for', formatDuration((stats.uptimeSeconds ?? 0) * 1000)],
    ['Codes published', formatInteger(stats.codes?.published)],
    ['Newest code', stats.codes?.lastId ? `#${stats.codes.lastId}` : 'none yet'],
    ['Held for replay', formatInteger(stats.codes?.held)],
    ['Connections opened', formatInteger(stats.connections?.opened)],
    ['Slow-consumer closes', formatInteger(stats.slowConsumerCloses ?? 0)],
    ['Stale closes', formatInteger(stats.staleCloses ?? 0)],
    ['Queued to clients', formatBytes(stats.queuedBytes)],
    ['User cache hits', typeof ratio === 'number' ? `${Math.round(ratio * 100)} %` : '—'],
  ];
  replaceChildren(list, ...rows.map(([term, value]) => h('div', {}, h('dt', { text: term }), h('dd', { text: value }))));
}
