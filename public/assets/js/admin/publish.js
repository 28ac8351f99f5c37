// Publishing a code: the audience before sending, the delivery figures after.

import { ApiError, messageOf } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatInteger, formatLatency, plural } from '../format.js';

/** How long the figures of the last published code keep refreshing. */
const FOLLOW_MS = 5 * 60_000;

/** A random Idempotency-Key; crypto.randomUUID exists only on secure origins. */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class PublishForm {
  #api;
  #form;
  #audience;
  #error;
  #result;
  #onPublished;
  /** Reused when a publish is retried after a lost answer, so it never broadcasts twice. */
  #key = null;
  #following;

  /**
   * @param {ReturnType<typeof import('../api.js').apiClient>} api
   * @param {{form: HTMLFormElement, audience: HTMLElement, error: HTMLElement, result: HTMLElement}} elements
   * @param {(code: object) => void} onPublished
   */
  constructor(api, { form, audience, error, result }, onPublished) {
    this.#api = api;
    this.#form = form;
    this.#audience = audience;
    this.#error = error;
    this.#result = result;
    this.#onPublished = onPublished;
    form.addEventListener('input', () => {
      this.#key = null;
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#publish();
    });
  }

  /** Shows who a code would reach now; called with every /stats sample. */
  showAudience(stats) {
    // A publish reaches every node's connections: the deployment's, where the server says.
    const reach = stats.deployment?.totals ?? { connections: stats.connections, usersOnline: stats.usersOnline };
    const connections = reach.connections?.total ?? 0;
    const byTransport = reach.connections?.byTransport ?? {};
    replaceChildren(
      this.#audience,
      'Reaches now: ',
      h('strong', { text: plural(connections, 'connection') }),
      ' · ',
      h('strong', { text: plural(reach.usersOnline ?? 0, 'user') }),
      ' online',
      h('span', {
        class: 'hint',
        text: ` (SSE ${formatInteger(byTransport.sse ?? 0)}, WebSocket ${formatInteger(byTransport.ws ?? 0)}, Socket.IO ${formatInteger(byTransport.socketio ?? 0)}; this page’s live feed is one of them)`,
      }),
    );
    if (this.#following && Date.now() - this.#following.since < FOLLOW_MS) void this.#refreshFigures();
  }

  #body() {
    const data = new FormData(this.#form);
    const text = (name) => String(data.get(name) ?? '').trim();
    const body = { code: text('code') };
    if (text('value') !== '') body.value = Number(text('value'));
    if (text('type') !== '') body.type = text('type');
    if (String(data.get('message') ?? '').trim() !== '') body.message = String(data.get('message'));
    if (text('ttl') !== '') body.ttlSeconds = Math.round(Number(text('ttl')) * Number(text('ttlUnit')));
    return body;
  }

  #fail(message) {
    this.#error.textContent = message;
    this.#error.hidden = false;
  }

  async #publish() {
    this.#error.hidden = true;
    const body = this.#body();
    if (body.code === '') {
      this.#fail('Enter the code to publish.');
      this.#form.elements.namedItem('code').focus();
      return;
    }
    if (body.value !== undefined && !Number.isFinite(body.value)) return this.#fail('The value must be a number.');
    if (body.ttlSeconds !== undefined && !(body.ttlSeconds >= 1)) return this.#fail('The expiry must be a positive number.');
    const button = this.#form.querySelector('button[type="submit"]');
    button.disabled = true;
    this.#key ??= newKey();
    try {
      const answer = await this.#api.post('/codes', body, { 'idempotency-key': this.#key });
      this.#key = null;
      this.#showPublished(answer);
      this.#onPublished(answer.code);
      // The next code is usually a new one; the rest of the form often stays.
      this.#form.elements.namedItem('code').value = '';
      this.#form.elements.namedItem('message').value = '';
      this.#form.elements.namedItem('code').focus();
    } catch (error) {
      // A lost answer may hide a publish that happened: keep the key so a retry cannot repeat it.
      if (error instanceof ApiError && error.status !== 0) this.#key = null;
      this.#fail(messageOf(error));
    } finally {
      button.disabled = false;
    }
  }

  #showPublished({ code, audience }) {
    const by = audience?.byTransport ?? {};
    this.#following = { id: code.id, since: Date.now(), figures: h('dl', { class: 'figures compact' }) };
    replaceChildren(
      this.#result,
      h(
        'p',
        { class: 'success' },
        'Published ',
        h('strong', { class: 'mono', text: code.code }),
        ` as #${code.id}, handed to ${plural(audience?.connections ?? 0, 'connection')}`,
        h('span', { class: 'hint', text: ` (SSE ${by.sse ?? 0}, WebSocket ${by.ws ?? 0}, Socket.IO ${by.socketio ?? 0})` }),
        '.',
      ),
      this.#following.figures,
    );
    this.#result.hidden = false;
    announce(`Published ${code.code} to ${plural(audience?.connections ?? 0, 'connection')}.`);
    void this.#refreshFigures();
  }

  async #refreshFigures() {
    const following = this.#following;
    if (!following || following.busy) return;
    following.busy = true;
    try {
      const { delivery, acks, code } = await this.#api.get(`/codes/${following.id}`);
      const rows = [
        ['Delivered', formatInteger(delivery.total)],
        ['Replayed', formatInteger(delivery.replayed)],
        ['Acked by', plural(acks.users, 'user')],
        ['Ack median', formatLatency(acks.medianMs)],
        ['Ack p99', formatLatency(acks.p99Ms)],
      ];
      if (code.revokedAt) rows.push(['Status', 'Revoked']);
      replaceChildren(following.figures, ...rows.map(([term, value]) => h('div', {}, h('dt', { text: term }), h('dd', { text: value }))));
    } catch (error) {
      replaceChildren(following.figures, h('p', { class: 'error', text: `Figures unavailable: ${messageOf(error)}` }));
    } finally {
      following.busy = false;
    }
  }
}
