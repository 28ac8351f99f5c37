// The embed's one conversation: with the page that frames it, on an origin
// it may talk to (codecast's own, or one of CODECAST_ALLOWED_ORIGINS).
// It hears only its parent window, only from such an origin, and only the
// first such origin it hears (a frame's parent cannot change origin without
// unloading the frame). It speaks only to that origin, postMessage's
// targetOrigin, never '*': a browser delivers nothing it says to a page of
// any other origin, whatever is framing it.

/** The parent's origin as the browser tells it, before the parent has said anything. */
function parentOriginGuess() {
  // Chromium and Safari say who frames the page. Firefox does not, and the
  // referrer (the parent's URL or origin, as its referrer policy allows)
  // stands in. A wrong guess is harmless: postMessage then delivers nothing.
  const ancestor = location.ancestorOrigins?.[0];
  if (ancestor) return ancestor;
  try {
    return document.referrer ? new URL(document.referrer).origin : undefined;
  } catch {
    return undefined;
  }
}

export class ParentChannel {
  #allows;
  #origin;
  #nonce;
  #onMessage;

  /**
   * @param {{parents: string, nonce?: string, onMessage: (data: Record<string, unknown>) => void}} options
   *   parents: the allowed origins, space-separated, or `*`; nonce: echoed in every message;
   *   onMessage: each message of the parent whose `type` starts with `codecast:`
   */
  constructor({ parents, nonce, onMessage }) {
    const listed = parents.split(' ').filter((origin) => origin !== '');
    const any = listed.includes('*');
    const origins = new Set([location.origin, ...listed]);
    // An opaque origin ('null': a sandboxed frame, a data: URL) is nobody in particular.
    this.#allows = (origin) => origin !== 'null' && (any || origins.has(origin));
    this.#nonce = nonce;
    this.#onMessage = onMessage;
    const guess = parentOriginGuess();
    if (guess !== undefined && this.#allows(guess)) this.#origin = guess;
    addEventListener('message', (event) => this.#receive(event));
  }

  /** The parent's origin once known (guessed from the browser, or heard from), else undefined. */
  get origin() {
    return this.#origin;
  }

  /**
   * Tells the parent something: `{type, data, ...extra, nonce?}`, to its
   * origin only; nothing while that origin is unknown.
   */
  post(type, data, extra = {}) {
    if (this.#origin === undefined) return;
    const message = { type, data, ...extra };
    if (this.#nonce) message.nonce = this.#nonce;
    window.parent.postMessage(message, this.#origin);
  }

  #receive(event) {
    // Only the frame's parent: not a sibling frame, a child, an opener or a popup.
    if (window.parent === window || event.source !== window.parent) return;
    if (!this.#allows(event.origin)) return;
    if (this.#origin !== undefined && event.origin !== this.#origin) return;
    const data = event.data;
    if (typeof data !== 'object' || data === null || typeof data.type !== 'string' || !data.type.startsWith('codecast:')) return;
    this.#origin = event.origin;
    this.#onMessage(data);
  }
}
