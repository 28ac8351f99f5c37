import pino, { type Logger } from 'pino';
import { redactUrl } from './http/index.js';

/**
 * Structured JSON logs; pretty when a person reads them in a terminal.
 * Requests are logged with tokens removed from the URL and no headers.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) => ({
        method: req.method,
        url: redactUrl(req.url ?? ''),
        remoteAddress: req.ip ?? req.socket?.remoteAddress,
      }),
    },
    redact: { paths: ['req.headers.authorization', '*.token', 'token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
