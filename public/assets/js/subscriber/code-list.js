// The subscriber's list of codes: one card per id, newest first, whatever
// order codes arrive in (live, replayed, or loaded), with the time left
// ticking down once a second.

import { copyButton } from '../copy.js';
import { h } from '../dom.js';
import { formatTime, formatValue, timeLeft } from '../format.js';

const MAX_CODES = 200;
const FRESH_MS = 5000;

/**
 * @typedef {{id: number, code: string, value: number | null, type: string | null,
 *   message: string | null, publishedAt: string, expiresAt: string | null}} Code
 */

export class CodeList {
  /** @type {Map<number, {code: Code, card: HTMLElement, timeLeft: HTMLElement, status: HTMLElement, copy: HTMLButtonElement}>} */
  #items = new Map();
  #list;
  #empty;
  #ticker;

  /** @param {HTMLElement} list @param {HTMLElement} empty shown while there is no code */
  constructor(list, empty) {
    this.#list = list;
    this.#empty = empty;
    this.#ticker = setInterval(() => this.tick(), 1000);
  }

  get size() {
    return this.#items.size;
  }

  has(id) {
    return this.#items.has(id);
  }

  /**
   * Shows a code unless it is already shown. Answers whether it was new.
   * @param {Code} code
   * @param {{fresh?: boolean, missed?: boolean}} [how] fresh: just arrived (highlighted); missed: replayed after a reconnect
   */
  add(code, how = {}) {
    if (this.#items.has(code.id)) return false;
    const item = this.#render(code, how);
    this.#items.set(code.id, item);
    // Keep the cards ordered by id, newest first, whatever the arrival order.
    let before = null;
    for (const other of this.#list.children) {
      if (Number(other.dataset.id) < code.id) {
        before = other;
        break;
      }
    }
    this.#list.insertBefore(item.card, before);
    if (how.fresh) setTimeout(() => item.card.classList.remove('fresh'), FRESH_MS);
    this.#trim();
    this.#syncEmpty();
    return true;
  }

  /** Marks a code revoked: it stays visible, struck through, and cannot be copied. */
  revoke(id) {
    const item = this.#items.get(id);
    if (!item) return;
    item.card.classList.add('revoked');
    item.card.classList.remove('fresh');
    item.timeLeft.textContent = 'Revoked: do not use';
    item.copy.disabled = true;
    item.copy.classList.remove('primary');
  }

  clear() {
    this.#items.clear();
    this.#list.replaceChildren();
    this.#syncEmpty();
  }

  /** Updates every time left; expired codes are marked, not removed. */
  tick(now = Date.now()) {
    for (const item of this.#items.values()) {
      if (item.card.classList.contains('revoked') || item.card.classList.contains('expired')) continue;
      const left = timeLeft(item.code.expiresAt, now);
      item.timeLeft.textContent = left.text;
      if (left.expired) {
        item.card.classList.add('expired');
        item.copy.classList.remove('primary');
      }
    }
  }

  dispose() {
    clearInterval(this.#ticker);
    this.clear();
  }

  #render(code, how) {
    const left = timeLeft(code.expiresAt);
    const timeLeftEl = h('span', { class: 'time-left', text: left.text });
    const status = h('span', { class: 'code-status' });
    if (how.missed) status.append(h('span', { class: 'badge info', text: 'Missed while away' }));
    const copy = copyButton(() => code.code, `code ${code.code}`, { class: `button${left.expired ? '' : ' primary'} copy` });
    const facts = [];
    if (code.value !== null && code.value !== undefined) facts.push(['Value', formatValue(code.value)]);
    if (code.type) facts.push(['Type', code.type]);
    const card = h(
      'li',
      { class: `code-card${how.fresh ? ' fresh' : ''}${left.expired ? ' expired' : ''}`, dataset: { id: String(code.id) } },
      h('div', { class: 'code-top' }, h('span', { class: 'code-value', text: code.code }), copy),
      facts.length > 0 &&
        h('dl', { class: 'code-facts' }, ...facts.map(([term, value]) => h('div', {}, h('dt', { text: term }), h('dd', { text: value })))),
      code.message && h('p', { class: 'code-message', text: code.message }),
      h(
        'div',
        { class: 'code-meta' },
        timeLeftEl,
        h('span', {}, 'Published ', h('time', { dateTime: code.publishedAt, text: formatTime(code.publishedAt) })),
        h('span', { class: 'visually-hidden', text: `, code number ${code.id}` }),
        status,
      ),
    );
    return { code, card, timeLeft: timeLeftEl, status, copy };
  }

  #trim() {
    while (this.#items.size > MAX_CODES) {
      const last = this.#list.lastElementChild;
      if (!last) return;
      this.#items.delete(Number(last.dataset.id));
      last.remove();
    }
  }

  #syncEmpty() {
    this.#empty.hidden = this.#items.size > 0;
  }
}
