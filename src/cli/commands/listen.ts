import { EventSource } from 'eventsource';
import type { Code } from '../../domain/index.js';
import { remoteOf, type RemoteOptions } from './remote.js';

export interface ListenOptions extends RemoteOptions {
  since?: string;
  json?: boolean;
}

function line(code: Code): string {
  const parts = [`#${code.id}`, code.code];
  if (code.value !== null) parts.push(`value=${code.value}`);
  if (code.type !== null) parts.push(`type=${code.type}`);
  if (code.expiresAt !== null) parts.push(`expires=${code.expiresAt}`);
  if (code.message !== null) parts.push(JSON.stringify(code.message));
  return parts.join('  ');
}

/**
 * `codecast listen`: a real SSE client (the `eventsource` package), which
 * reconnects by itself with Last-Event-ID, so nothing is missed across
 * drops. Codes go to stdout, one per line (or JSON lines); the connection's
 * state goes to stderr.
 */
export async function listen(options: ListenOptions): Promise<void> {
  const remote = remoteOf(options);
  if (options.since !== undefined && !/^\d+$/.test(options.since)) {
    process.stderr.write(`codecast: --since must be a code id (a whole number), not "${options.since}"\n`);
    process.exit(2);
  }
  const url = new URL(`${remote.url}/api/v1/stream`);
  if (options.since !== undefined) url.searchParams.set('since', options.since);
  const status = (text: string) => process.stderr.write(`codecast: ${text}\n`);
  let lastStatus = 0;

  const source = new EventSource(url, {
    fetch: async (input, init) => {
      const response = await fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${remote.token}` } });
      lastStatus = response.status;
      return response;
    },
  });
  source.addEventListener('hello', (event) => {
    const hello = JSON.parse(event.data) as { lastId: number };
    status(`connected to ${remote.url} (newest code #${hello.lastId})`);
  });
  source.addEventListener('code', (event) => {
    const code = JSON.parse(event.data) as Code;
    process.stdout.write(`${options.json ? JSON.stringify(code) : line(code)}\n`);
  });
  source.addEventListener('revoke', (event) => {
    const { id } = JSON.parse(event.data) as { id: number };
    if (options.json) process.stdout.write(`${JSON.stringify({ revoked: id })}\n`);
    else status(`code #${id} was revoked`);
  });
  source.addEventListener('reset', (event) => {
    const { oldestId } = JSON.parse(event.data) as { oldestId: number | null };
    status(`away too long: codes before #${oldestId ?? '?'} may have been missed`);
  });
  source.addEventListener('shutdown', () => status('the server is restarting; reconnecting'));

  await new Promise<void>((resolve) => {
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // eventsource stops for good on a refusal (any status but 200).
        status(
          lastStatus === 401 || lastStatus === 403
            ? `refused (${lastStatus}): the token is unknown, revoked or disabled`
            : `stopped: the server answered ${lastStatus}`,
        );
        process.exitCode = 1;
        resolve();
      } else {
        status('connection lost; reconnecting');
      }
    };
    const stop = () => {
      source.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
