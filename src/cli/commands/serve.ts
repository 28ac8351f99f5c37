import { startServer } from '../../app.js';
import { describeDatabase } from '../../config/index.js';
import { configOrExit } from '../config-or-exit.js';

export async function serve(): Promise<void> {
  const config = configOrExit();
  // A token is shown only to a terminal: standard output that is a file or a
  // pipe is a log, and a log collector must never hold one.
  const terminal = process.stdout.isTTY === true;
  const server = await startServer(config, { canShowToken: terminal });
  const base = (config.publicUrl ?? `http://localhost:${server.port}`).replace(/\/+$/, '');
  const lines = [
    '',
    `codecast is listening on ${config.host}:${server.port}`,
    `  subscriber page  ${base}/`,
    `  admin page       ${base}/admin`,
    `  API              ${base}/api/v1`,
    `  SSE stream       ${base}/api/v1/stream`,
    `  database         ${describeDatabase(config.database)}`,
  ];
  const { bootstrap } = server;
  if (bootstrap) {
    lines.push('', `Created the first admin, "${bootstrap.username}".`);
    switch (bootstrap.token.kind) {
      case 'generated':
        lines.push('Its token is shown this once; keep it somewhere safe:', '', `  ${bootstrap.token.value}`);
        break;
      case 'environment':
        lines.push('Its token is the one in CODECAST_ADMIN_TOKEN.');
        break;
      case 'none':
        lines.push(
          'It has no token yet: standard output is not a terminal, and a token is never written where a log',
          `collector could keep it. Give it one with \`codecast token create ${bootstrap.username}\` (same DATABASE_URL),`,
          'or set CODECAST_ADMIN_TOKEN before the first start.',
        );
        break;
    }
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    server.logger.info({ signal }, 'stopping');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        server.logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  stopWhenNpmGoes(() => onSignal('SIGTERM'), server.logger);
}

/**
 * `npx codecast serve` runs codecast under a shell that npm starts and
 * signals: SIGTERM to npm ends the shell but never reaches codecast, which
 * would run on, orphaned, holding its port. Started by npm (`npm_command`
 * is set), codecast therefore stops as on SIGTERM once the process that
 * started it is gone. Started any other way it does not: a server put in
 * the background by a shell that then exits is meant to outlive it.
 */
function stopWhenNpmGoes(stop: () => void, logger: { warn(details: object, message: string): void }): void {
  if (process.env.npm_command === undefined) return;
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    logger.warn({ parent }, 'the npm process that started codecast has gone (its signal did not reach here): stopping');
    stop();
  }, 500);
  watch.unref();
}
