import pino, { type Logger } from 'pino';
import { serializeRequest } from './edge/index.js';

/**
 * Structured JSON logs; pretty when a person reads them in a terminal.
 * Requests are logged with tokens removed from the URL and no headers.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    serializers: { req: serializeRequest },
    redact: { paths: ['req.headers.authorization', '*.token', 'token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
