// The audit trail, newest first, a page at a time (GET /api/v1/audit).

import { messageOf } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { formatDateTime } from '../format.js';

const PAGE = 50;

const ACTIONS = {
  'code.publish': 'Published a code',
  'code.revoke': 'Revoked a code',
  'user.create': 'Created a user',
  'user.update': 'Changed a user',
  'token.create': 'Created a token',
  'token.revoke': 'Revoked a token',
  'settings.update': 'Changed settings',
};

/** Details as `key: value` lines, never raw JSON. */
export function describeDetails(details, prefix = '') {
  if (details === null || details === undefined) return [];
  if (typeof details !== 'object') return [`${prefix || 'value'}: ${String(details)}`];
  const lines = [];
  for (const [key, value] of Object.entries(details)) {
    const name = prefix ? `${prefix} ${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) lines.push(...describeDetails(value, name));
    else lines.push(`${name}: ${value === null ? 'none' : Array.isArray(value) ? value.join(', ') : String(value)}`);
  }
  return lines;
}

export class AuditPanel {
  #api;
  #tbody;
  #older;
  #error;
  #oldestId;

  /**
   * @param {ReturnType<typeof import('../api.js').apiClient>} api
   * @param {{table: HTMLTableElement, older: HTMLButtonElement, error: HTMLElement}} elements
   */
  constructor(api, { table, older, error }) {
    this.#api = api;
    this.#tbody = table.tBodies[0];
    this.#older = older;
    this.#error = error;
    older.addEventListener('click', () => void this.#page(this.#oldestId));
  }

  async load() {
    this.#tbody.replaceChildren();
    this.#oldestId = undefined;
    await this.#page(undefined);
  }

  async #page(before) {
    this.#error.hidden = true;
    try {
      const query = before === undefined ? `?limit=${PAGE}` : `?limit=${PAGE}&before=${before}`;
      const { entries } = await this.#api.get(`/audit${query}`);
      for (const entry of entries) this.#tbody.append(this.#row(entry));
      if (entries.length > 0) this.#oldestId = entries[entries.length - 1].id;
      this.#older.hidden = entries.length < PAGE;
      if (before === undefined && entries.length === 0) {
        this.#tbody.append(h('tr', {}, h('td', { colSpan: 5, class: 'muted', text: 'Nothing recorded yet.' })));
      }
    } catch (error) {
      this.#error.textContent = `The audit trail could not be loaded: ${messageOf(error)}`;
      this.#error.hidden = false;
    }
  }

  #row(entry) {
    const details = describeDetails(entry.details);
    const cell = h('td', { class: 'details' });
    replaceChildren(cell, ...details.flatMap((line, i) => (i === 0 ? [line] : [h('br'), line])));
    return h(
      'tr',
      {},
      h('td', {}, h('time', { dateTime: entry.at, text: formatDateTime(entry.at) })),
      h('td', { text: entry.actor ?? 'CLI' }),
      h('td', { text: ACTIONS[entry.action] ?? entry.action, title: entry.action }),
      h('td', { class: 'mono', text: entry.target ?? '—' }),
      cell,
    );
  }
}
