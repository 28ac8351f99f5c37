// The history of codes, newest first, with each code's delivery and ack
// figures and a revoke button. Pages come from GET /codes?all=true (which
// carries the delivered counts); acks come from GET /codes/:id per row.

import { messageOf } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatDuration, formatInteger, formatLatency, formatTime, formatValue } from '../format.js';
import { confirmButton } from './confirm-button.js';

const PAGE = 25;
const PARALLEL_FIGURES = 4;

const delivered = (record) => Object.values(record.delivered ?? {}).reduce((a, b) => a + b, 0);

export class CodesTable {
  #api;
  #tbody;
  #empty;
  #older;
  #error;
  /** @type {Map<number, {record: any, row: HTMLTableRowElement, status: HTMLElement, delivered: HTMLElement, acked: HTMLElement, action: HTMLElement}>} */
  #rows = new Map();
  #oldestLoaded = Infinity;

  /**
   * @param {ReturnType<typeof import('../api.js').apiClient>} api
   * @param {{table: HTMLTableElement, empty: HTMLElement, older: HTMLButtonElement, error: HTMLElement}} elements
   */
  constructor(api, { table, empty, older, error }) {
    this.#api = api;
    this.#tbody = table.tBodies[0];
    this.#empty = empty;
    this.#older = older;
    this.#error = error;
    older.addEventListener('click', () => void this.#loadPage(this.#oldestLoaded - 1));
  }

  /** Loads the newest page again; `lastId` is the newest code id the server reported. */
  async reload(lastId) {
    this.#rows.clear();
    this.#tbody.replaceChildren();
    this.#oldestLoaded = Infinity;
    await this.#loadPage(lastId);
  }

  /** A code published just now (by this page or anyone else): shown at the top. */
  addLive(code) {
    if (this.#rows.has(code.id)) return;
    this.#insert({ ...code, revokedAt: null, delivered: { sse: 0, ws: 0, socketio: 0 }, replayed: 0 });
    this.#syncEmpty();
    // Give deliveries and first acks a moment before asking for them.
    setTimeout(() => void this.#figures([code.id]), 3000);
  }

  /** A code was revoked (here or elsewhere). */
  markRevoked(id) {
    const entry = this.#rows.get(id);
    if (!entry) return;
    entry.record = { ...entry.record, revokedAt: entry.record.revokedAt ?? new Date().toISOString() };
    this.#renderStatus(entry);
  }

  /** Fetches the figures of every shown row again. */
  refreshFigures() {
    return this.#figures([...this.#rows.keys()]);
  }

  async #loadPage(newestId) {
    this.#error.hidden = true;
    const since = Math.max(0, newestId - PAGE);
    try {
      const { codes } = await this.#api.get(`/codes?all=true&since=${since}&limit=${PAGE}`);
      for (const record of codes) this.#insert(record);
      this.#oldestLoaded = Math.min(this.#oldestLoaded, since + 1);
      this.#older.hidden = since === 0;
      this.#syncEmpty();
      await this.#figures(codes.map((c) => c.id));
    } catch (error) {
      this.#showError(`The codes could not be loaded: ${messageOf(error)}`);
    }
  }

  #insert(record) {
    if (this.#rows.has(record.id)) return;
    const status = h('td');
    const deliveredCell = h('td', { class: 'num', text: formatInteger(delivered(record)) });
    const acked = h('td', { class: 'num', text: '…' });
    const action = h('td', { class: 'actions' });
    const row = h(
      'tr',
      { dataset: { id: String(record.id) } },
      h('td', { class: 'num muted', text: String(record.id) }),
      h('th', { scope: 'row', class: 'mono code-cell', text: record.code }),
      h('td', { class: 'num', text: formatValue(record.value) }),
      h('td', { text: record.type ?? '—' }),
      h('td', { class: 'message-cell', text: record.message ?? '', title: record.message ?? '' }),
      h('td', {}, h('time', { dateTime: record.publishedAt, text: formatTime(record.publishedAt) })),
      status,
      deliveredCell,
      acked,
      action,
    );
    const entry = { record, row, status, delivered: deliveredCell, acked, action };
    this.#rows.set(record.id, entry);
    this.#renderStatus(entry);
    // Newest first, whatever order rows arrive in.
    const before = [...this.#tbody.rows].find((other) => Number(other.dataset.id) < record.id) ?? null;
    this.#tbody.insertBefore(row, before);
  }

  #renderStatus(entry) {
    const { record } = entry;
    const now = Date.now();
    if (record.revokedAt) {
      replaceChildren(entry.status, h('span', { class: 'badge bad', text: 'Revoked' }));
      entry.action.replaceChildren();
      return;
    }
    if (record.expiresAt && Date.parse(record.expiresAt) <= now) {
      replaceChildren(entry.status, h('span', { class: 'badge', text: 'Expired' }));
    } else {
      replaceChildren(
        entry.status,
        h('span', { class: 'badge ok', text: 'Live' }),
        record.expiresAt && h('span', { class: 'hint', text: ` ${formatDuration(Date.parse(record.expiresAt) - now)} left` }),
      );
    }
    replaceChildren(
      entry.action,
      confirmButton('Revoke', `code ${record.code}`, () => this.#revoke(record.id)),
    );
  }

  async #revoke(id) {
    this.#error.hidden = true;
    const entry = this.#rows.get(id);
    try {
      await this.#api.delete(`/codes/${id}`);
      this.markRevoked(id);
      announce(`Code ${entry?.record.code ?? id} revoked.`);
    } catch (error) {
      this.#showError(messageOf(error));
      if (error.code === 'code_revoked') this.markRevoked(id);
    }
  }

  async #figures(ids) {
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const entry = this.#rows.get(id);
        if (!entry) continue;
        try {
          const { code, delivery, acks } = await this.#api.get(`/codes/${id}`);
          entry.delivered.textContent = formatInteger(delivery.total);
          entry.delivered.title = `SSE ${delivery.byTransport.sse}, WebSocket ${delivery.byTransport.ws}, Socket.IO ${delivery.byTransport.socketio}; ${delivery.replayed} replayed`;
          replaceChildren(
            entry.acked,
            formatInteger(acks.users),
            acks.users > 0 && h('span', { class: 'hint', text: ` · ${formatLatency(acks.medianMs)} median` }),
          );
          if (code.revokedAt && !entry.record.revokedAt) {
            entry.record = { ...entry.record, revokedAt: code.revokedAt };
            this.#renderStatus(entry);
          }
        } catch {
          entry.acked.textContent = '—';
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_FIGURES }, worker));
  }

  #syncEmpty() {
    this.#empty.hidden = this.#rows.size > 0;
  }

  #showError(message) {
    this.#error.textContent = message;
    this.#error.hidden = false;
  }
}
