// Users and their tokens: create a user (its first token shown once, with a
// copy button), disable and enable, list a user's tokens, add and revoke them.

import { messageOf } from '../api.js';
import { copyButton } from '../copy.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatDateTime } from '../format.js';
import { confirmButton } from './confirm-button.js';

export class UsersPanel {
  #api;
  #el;
  /** The user whose tokens are open, if any. */
  #open = null;

  /**
   * @param {ReturnType<typeof import('../api.js').apiClient>} api
   * @param {{form: HTMLFormElement, table: HTMLTableElement, error: HTMLElement, newToken: HTMLElement, detail: HTMLElement}} elements
   */
  constructor(api, elements) {
    this.#api = api;
    this.#el = elements;
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#create();
    });
  }

  async load() {
    try {
      const { users } = await this.#api.get('/users');
      replaceChildren(this.#el.table.tBodies[0], ...users.map((user) => this.#row(user)));
      if (this.#open) await this.#showTokens(this.#open, false);
    } catch (error) {
      this.#fail(`The users could not be loaded: ${messageOf(error)}`);
    }
  }

  #row(user) {
    const toggle = user.disabled
      ? h(
          'button',
          { type: 'button', class: 'button small', on: { click: () => this.#setDisabled(user, false) } },
          'Enable',
          h('span', { class: 'visually-hidden', text: ` ${user.username}` }),
        )
      : confirmButton('Disable', user.username, () => this.#setDisabled(user, true));
    return h(
      'tr',
      { dataset: { user: user.username } },
      h('th', { scope: 'row', text: user.username }),
      h('td', {}, h('span', { class: `badge${user.role === 'admin' ? ' info' : ''}`, text: user.role })),
      h('td', {}, h('span', { class: `badge ${user.disabled ? 'bad' : 'ok'}`, text: user.disabled ? 'Disabled' : 'Active' })),
      h('td', { text: formatDateTime(user.createdAt) }),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          { type: 'button', class: 'button small', on: { click: () => void this.#showTokens(user.username, true) } },
          'Tokens',
          h('span', { class: 'visually-hidden', text: ` of ${user.username}` }),
        ),
        toggle,
      ),
    );
  }

  async #create() {
    const data = new FormData(this.#el.form);
    const username = String(data.get('username') ?? '').trim();
    const role = String(data.get('role') ?? 'user');
    this.#el.error.hidden = true;
    if (username === '') return this.#fail('Enter a username.');
    const button = this.#el.form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const { user, token } = await this.#api.post('/users', { username, role });
      this.#el.form.reset();
      this.#showToken(user.username, token.token, 'New user');
      await this.load();
    } catch (error) {
      this.#fail(messageOf(error));
    } finally {
      button.disabled = false;
    }
  }

  async #setDisabled(user, disabled) {
    this.#el.error.hidden = true;
    try {
      await this.#api.patch(`/users/${encodeURIComponent(user.username)}`, { disabled });
      announce(`${user.username} ${disabled ? 'disabled: their connections were closed' : 'enabled'}.`);
      await this.load();
    } catch (error) {
      this.#fail(messageOf(error));
    }
  }

  /** The token, this once: it is stored only as a hash and cannot be shown again. */
  #showToken(username, token, what) {
    const panel = this.#el.newToken;
    replaceChildren(
      panel,
      h('h2', { id: 'new-token-title', text: `${what}: token for ${username}` }),
      h('p', { class: 'hint', text: 'Shown this once. Copy it now and hand it over safely; codecast keeps only a hash of it.' }),
      h(
        'div',
        { class: 'token-row' },
        h('code', { class: 'token-value', id: 'new-token-value', text: token }),
        copyButton(() => token, `token for ${username}`, { class: 'button primary copy' }),
        h('button', {
          type: 'button',
          class: 'button',
          text: 'Done',
          on: {
            click: () => {
              panel.hidden = true;
              panel.replaceChildren();
            },
          },
        }),
      ),
    );
    panel.hidden = false;
    panel.focus();
  }

  async #showTokens(username, focus) {
    const detail = this.#el.detail;
    try {
      const { user, tokens } = await this.#api.get(`/users/${encodeURIComponent(username)}`);
      this.#open = user.username;
      const labelInput = h('input', {
        id: 'token-label',
        name: 'label',
        maxLength: 100,
        placeholder: 'e.g. phone, kiosk 3',
        autocomplete: 'off',
      });
      const form = h(
        'form',
        {
          class: 'inline-form',
          on: {
            submit: (event) => {
              event.preventDefault();
              void this.#addToken(user.username, labelInput.value.trim());
            },
          },
        },
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'token-label', text: 'New token label' }, h('span', { class: 'hint', text: ' optional' })),
          labelInput,
        ),
        h('button', { type: 'submit', class: 'button primary', text: 'Create token' }),
      );
      replaceChildren(
        detail,
        h(
          'div',
          { class: 'panel-head' },
          h('h2', { id: 'user-detail-title', text: `Tokens of ${user.username}` }),
          h('button', { type: 'button', class: 'button small quiet', text: 'Close', on: { click: () => this.#closeTokens() } }),
        ),
        tokens.length === 0
          ? h('p', { class: 'muted', text: 'No tokens.' })
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'table' },
                h('caption', { class: 'visually-hidden', text: `Tokens of ${user.username}` }),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ...['Id', 'Label', 'Created', 'Status'].map((t) => h('th', { scope: 'col', text: t })),
                    h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })),
                  ),
                ),
                h('tbody', {}, ...tokens.map((token) => this.#tokenRow(user.username, token))),
              ),
            ),
        form,
      );
      detail.hidden = false;
      if (focus) detail.focus();
    } catch (error) {
      this.#fail(messageOf(error));
    }
  }

  #tokenRow(username, token) {
    return h(
      'tr',
      { dataset: { token: String(token.id) } },
      h('td', { class: 'num muted', text: String(token.id) }),
      h('th', { scope: 'row', text: token.label ?? '—' }),
      h('td', { text: formatDateTime(token.createdAt) }),
      h('td', {}, h('span', { class: `badge ${token.revokedAt ? 'bad' : 'ok'}`, text: token.revokedAt ? 'Revoked' : 'Active' })),
      h(
        'td',
        { class: 'actions' },
        !token.revokedAt &&
          confirmButton('Revoke', `token ${token.id}${token.label ? ` (${token.label})` : ''}`, () =>
            this.#revokeToken(username, token.id),
          ),
      ),
    );
  }

  async #addToken(username, label) {
    this.#el.error.hidden = true;
    try {
      const { token } = await this.#api.post(`/users/${encodeURIComponent(username)}/tokens`, label ? { label } : {});
      this.#showToken(username, token.token, 'New token');
      await this.#showTokens(username, false);
    } catch (error) {
      this.#fail(messageOf(error));
    }
  }

  async #revokeToken(username, id) {
    this.#el.error.hidden = true;
    try {
      await this.#api.delete(`/tokens/${id}`);
      announce(`Token ${id} revoked: its connections were closed.`);
      await this.#showTokens(username, false);
    } catch (error) {
      this.#fail(messageOf(error));
    }
  }

  #closeTokens() {
    this.#open = null;
    this.#el.detail.hidden = true;
    this.#el.detail.replaceChildren();
  }

  #fail(message) {
    this.#el.error.textContent = message;
    this.#el.error.hidden = false;
  }
}
