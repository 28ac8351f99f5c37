// Runtime settings: GET and PUT /api/v1/settings.

import { messageOf } from '../api.js';

export class SettingsPanel {
  #api;
  #form;
  #message;
  /** Edited since the form last showed the server's values: a load that lands late must not undo the edit. */
  #edited = false;

  /**
   * @param {ReturnType<typeof import('../api.js').apiClient>} api
   * @param {{form: HTMLFormElement, message: HTMLElement}} elements
   */
  constructor(api, { form, message }) {
    this.#api = api;
    this.#form = form;
    this.#message = message;
    form.addEventListener('input', () => {
      this.#edited = true;
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#save();
    });
  }

  async load() {
    try {
      const settings = await this.#api.get('/settings');
      if (!this.#edited) this.#fill(settings);
    } catch (error) {
      this.#say(`The settings could not be loaded: ${messageOf(error)}`, false);
    }
  }

  #fill(settings) {
    this.#form.elements.namedItem('dedupCaseInsensitive').checked = settings.dedupCaseInsensitive === true;
    this.#form.elements.namedItem('defaultValue').value = settings.defaultValue ?? '';
  }

  async #save() {
    const text = this.#form.elements.namedItem('defaultValue').value.trim();
    const defaultValue = text === '' ? null : Number(text);
    if (defaultValue !== null && !Number.isFinite(defaultValue)) {
      this.#say('The default value must be a number, or empty for none.', false);
      return;
    }
    const button = this.#form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const saved = await this.#api.put('/settings', {
        dedupCaseInsensitive: this.#form.elements.namedItem('dedupCaseInsensitive').checked,
        defaultValue,
      });
      this.#edited = false;
      this.#fill(saved);
      this.#say('Saved. The new settings apply to the next publish.', true);
    } catch (error) {
      this.#say(messageOf(error), false);
    } finally {
      button.disabled = false;
    }
  }

  #say(text, ok) {
    this.#message.textContent = text;
    this.#message.className = ok ? 'success' : 'error';
    this.#message.hidden = false;
  }
}
