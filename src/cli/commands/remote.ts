/** Where a client command talks to, from flags or the environment. */
export interface RemoteOptions {
  url?: string;
  token?: string;
}

export interface Remote {
  readonly url: string;
  readonly token: string;
}

export const DEFAULT_URL = 'http://localhost:8080';

/** Resolves --url/--token (or CODECAST_URL/CODECAST_TOKEN), exiting with a message when the token is missing. */
export function remoteOf(options: RemoteOptions): Remote {
  const url = (options.url ?? process.env.CODECAST_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const token = options.token ?? process.env.CODECAST_TOKEN;
  if (!token) {
    process.stderr.write('codecast: a token is needed: --token TOKEN or CODECAST_TOKEN\n');
    process.exit(2);
  }
  try {
    new URL(url);
  } catch {
    process.stderr.write(`codecast: --url "${url}" is not a URL\n`);
    process.exit(2);
  }
  return { url, token };
}

/** The `message` of a codecast error body, or the status when there is none. */
export async function describeFailure(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    if (body.message) return `${body.message} (${response.status} ${body.error ?? ''})`.replace(/ \)$/, ')');
  } catch {
    // not our JSON
  }
  return `the server answered ${response.status} ${response.statusText}`;
}
