import { subscribe, type Code, type TransportName } from '../../client/node.js';
import { remoteOf, type RemoteOptions } from './remote.js';

export interface ListenOptions extends RemoteOptions {
  since?: string;
  json?: boolean;
  transport?: string;
}

const TRANSPORTS: readonly TransportName[] = ['sse', 'websocket'];

function line(code: Code): string {
  const parts = [`#${code.id}`, code.code];
  if (code.value !== null) parts.push(`value=${code.value}`);
  if (code.type !== null) parts.push(`type=${code.type}`);
  if (code.expiresAt !== null) parts.push(`expires=${code.expiresAt}`);
  if (code.message !== null) parts.push(JSON.stringify(code.message));
  return parts.join('  ');
}

function usageError(message: string): never {
  process.stderr.write(`codecast: ${message}\n`);
  process.exit(2);
}

/**
 * `codecast listen`: a subscriber built on the client library
 * (`codecast/client`), which reconnects by itself and resumes from the last
 * id it saw, so nothing is missed or repeated across drops and server
 * restarts. Codes go to stdout, one per line (or JSON lines); the
 * connection's state goes to stderr.
 */
export async function listen(options: ListenOptions): Promise<void> {
  const remote = remoteOf(options);
  const since = options.since === undefined ? undefined : Number(options.since);
  if (options.since !== undefined && !(/^\d+$/.test(options.since) && Number.isSafeInteger(since))) {
    usageError(`--since must be a code id (a whole number), not "${options.since}"`);
  }
  const transport = (options.transport ?? 'sse') as TransportName;
  if (!TRANSPORTS.includes(transport)) usageError(`--transport is sse or websocket, not "${options.transport}"`);
  const status = (text: string) => process.stderr.write(`codecast: ${text}\n`);

  const subscription = subscribe({
    url: remote.url,
    token: remote.token,
    transport,
    since,
    onHello: (hello) => status(`connected to ${remote.url} (newest code #${hello.lastId})`),
    onCode: (code) => {
      process.stdout.write(`${options.json ? JSON.stringify(code) : line(code)}\n`);
    },
    onRevoke: (id) => {
      if (options.json) process.stdout.write(`${JSON.stringify({ revoked: id })}\n`);
      else status(`code #${id} was revoked`);
    },
    onReset: (reset, { seenId }) => {
      status(
        reset.lastId < (seenId ?? 0)
          ? `the server has no code after #${reset.lastId} (it lost codes this listener saw); listening from there`
          : `away too long: codes before #${reset.oldestId ?? '?'} may have been missed`,
      );
    },
    onError: (error) => {
      if (error.final) return; // said below, once the subscription has stopped
      if (error.code === 'shutdown') status('the server is restarting; reconnecting');
      else status(`connection lost (${error.message}); reconnecting`);
    },
  });

  const stop = () => void subscription.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const refusal = await subscription.done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (refusal) {
    status(
      refusal.status === 401 || refusal.status === 403
        ? `refused (${refusal.status}): the token is unknown, revoked or disabled`
        : `stopped: the server answered ${refusal.status ?? refusal.code}: ${refusal.message}`,
    );
    process.exitCode = 1;
  }
}
