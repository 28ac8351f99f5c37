import { startServer } from '../../app.js';
import { describeDatabase } from '../../config/index.js';
import { configOrExit } from '../config-or-exit.js';

export async function serve(): Promise<void> {
  const config = configOrExit();
  const server = await startServer(config);
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
  if (server.bootstrap) {
    lines.push('', `Created the first admin, "${server.bootstrap.username}".`);
    if (server.bootstrap.generatedToken) {
      lines.push('Its token is shown this once; keep it somewhere safe:', '', `  ${server.bootstrap.generatedToken}`);
    } else {
      lines.push('Its token is the one in CODECAST_ADMIN_TOKEN.');
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
}
