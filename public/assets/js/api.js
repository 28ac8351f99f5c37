// The HTTP API as the pages call it: the token always in the Authorization
// header (never in a URL), and every failure turned into an ApiError whose
// message is written for a person.

export const API = '/api/v1';

/** A refused or failed request; `message` is the server's own sentence. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code the machine code (`unauthorized`, `duplicate_code`, …)
   * @param {string} message for a person
   * @param {Record<string, unknown>} [details] extra fields (`id`, `field`, `limit`)
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Reads an error answer; anything that is not our JSON shape gets a plain sentence. */
export async function errorOf(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (body && typeof body.message === 'string') {
    const { error, message, ...details } = body;
    return new ApiError(response.status, String(error ?? 'error'), message, details);
  }
  return new ApiError(response.status, 'http_error', `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.'));
}

/**
 * A client bound to a token.
 * @param {() => string | null} tokenOf where the current token lives
 * @param {{onUnauthorized?: (error: ApiError) => void}} [hooks] told when the token stops working
 */
export function apiClient(tokenOf, hooks = {}) {
  async function request(method, path, body, headers = {}) {
    const token = tokenOf();
    const init = { method, headers: { accept: 'application/json', ...headers }, cache: 'no-store' };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${API}${path}`, init);
    } catch {
      throw new ApiError(0, 'network_error', 'codecast cannot be reached. Check the connection and try again.');
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (error.status === 401) hooks.onUnauthorized?.(error);
      throw error;
    }
    if (response.status === 204) return undefined;
    return response.json();
  }
  return {
    get: (path) => request('GET', path),
    post: (path, body, headers) => request('POST', path, body, headers),
    put: (path, body) => request('PUT', path, body),
    patch: (path, body) => request('PATCH', path, body),
    delete: (path) => request('DELETE', path),
  };
}

/** The message to show for anything thrown. */
export function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
