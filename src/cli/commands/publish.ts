import { describeFailure, remoteOf, type RemoteOptions } from './remote.js';

export interface PublishOptions extends RemoteOptions {
  value?: string;
  type?: string;
  message?: string;
  ttl?: string;
  source?: string;
  idempotencyKey?: string;
  json?: boolean;
}

function number(flag: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    process.stderr.write(`codecast: ${flag} must be ${integer ? 'a whole number' : 'a number'}, not "${text}"\n`);
    process.exit(2);
  }
  return n;
}

/** `codecast publish CODE …`: one POST /api/v1/codes; prints the id and audience. */
export async function publish(code: string, options: PublishOptions): Promise<void> {
  const remote = remoteOf(options);
  const body = {
    code,
    value: number('--value', options.value, false),
    type: options.type,
    message: options.message,
    ttlSeconds: number('--ttl', options.ttl, true),
    source: options.source ?? 'cli',
  };
  const headers: Record<string, string> = { authorization: `Bearer ${remote.token}`, 'content-type': 'application/json' };
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(`${remote.url}/api/v1/codes`, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (error) {
    process.stderr.write(`codecast: cannot reach ${remote.url}: ${(error as Error).cause ?? (error as Error).message}\n`);
    process.exit(1);
  }
  if (!response.ok) {
    process.stderr.write(`codecast: not published: ${await describeFailure(response)}\n`);
    process.exit(1);
  }
  const result = (await response.json()) as { code: { id: number; code: string }; audience: { connections: number } };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const again = response.status === 200 ? ' (already published under this Idempotency-Key)' : '';
    process.stdout.write(`published #${result.code.id} ${result.code.code} to ${result.audience.connections} connection(s)${again}\n`);
  }
}
