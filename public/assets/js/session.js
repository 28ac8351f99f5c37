// Signing in: the token is checked against GET /me and kept in
// sessionStorage — this tab only, gone when it closes, never in a URL.

import { API, ApiError, errorOf, messageOf } from './api.js';

/** Where one page keeps its token. */
export class Session {
  #key;

  /** @param {string} key the sessionStorage key */
  constructor(key) {
    this.#key = key;
  }

  get token() {
    try {
      return sessionStorage.getItem(this.#key);
    } catch {
      return null;
    }
  }

  save(token) {
    sessionStorage.setItem(this.#key, token);
  }

  clear() {
    try {
      sessionStorage.removeItem(this.#key);
    } catch {
      // storage disabled: nothing was kept
    }
  }
}

/** Answers `{user, tokenId}` for a token, or throws an ApiError. */
export async function whoIs(token) {
  let response;
  try {
    response = await fetch(`${API}/me`, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', 'codecast cannot be reached. Check the connection and try again.');
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.status === 401) error.message = 'That token is not valid, or it was revoked.';
    throw error;
  }
  return response.json();
}

/**
 * Wires a sign-in form to a session. A token kept from earlier in this tab
 * signs in by itself; `onSignedIn` gets the user and the token.
 * @param {{
 *   session: Session,
 *   form: HTMLFormElement,
 *   screen: HTMLElement,
 *   error: HTMLElement,
 *   requireAdmin?: boolean,
 *   onSignedIn: (me: {user: {username: string, role: string}}, token: string) => void,
 * }} options
 * @returns {{signOut: (reason?: string) => void}}
 */
export function signInFlow({ session, form, screen, error, requireAdmin = false, onSignedIn }) {
  const input = /** @type {HTMLInputElement} */ (form.elements.namedItem('token'));
  const button = form.querySelector('button[type="submit"]');

  function showForm(reason) {
    screen.hidden = false;
    error.textContent = reason ?? '';
    error.hidden = !reason;
    input.value = '';
    input.focus();
  }

  async function tryToken(token) {
    const me = await whoIs(token);
    if (requireAdmin && me.user.role !== 'admin') {
      throw new ApiError(403, 'forbidden', `${me.user.username} is not an admin: this page needs an admin token.`);
    }
    return me;
  }

  async function signIn(token, remembered) {
    if (button) button.disabled = true;
    try {
      const me = await tryToken(token);
      session.save(token);
      screen.hidden = true;
      error.hidden = true;
      onSignedIn(me, token);
    } catch (failure) {
      if (remembered && (failure.status === 401 || failure.status === 403)) session.clear();
      showForm(remembered && failure.status === 401 ? 'Your session has ended. Sign in again.' : messageOf(failure));
    } finally {
      if (button) button.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') {
      showForm('Enter your token.');
      return;
    }
    void signIn(token, false);
  });

  const kept = session.token;
  if (kept) void signIn(kept, true);
  else showForm();

  return {
    signOut(reason) {
      session.clear();
      showForm(reason);
    },
  };
}
