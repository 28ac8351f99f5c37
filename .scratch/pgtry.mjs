import { loadConfig } from '/work/main/dist/config/index.js';
import { startServer } from '/work/main/dist/app.js';
import pino from 'pino';
const db = process.argv[2];
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, LOG_LEVEL: 'info', CODECAST_ADMIN_TOKEN: 'cc_test-admin-token-0123456789abcdefghijklmnopq' });
const server = await startServer(config, { logger: pino({ level: 'warn' }) });
console.log('up', server.url, server.bootstrap);
const h = { authorization: 'Bearer cc_test-admin-token-0123456789abcdefghijklmnopq', 'content-type': 'application/json' };
for (const code of ['A-1', 'B-2', 'C-3']) {
  const r = await fetch(`${server.url}/api/v1/codes`, { method: 'POST', headers: h, body: JSON.stringify({ code, value: 3.14159 }) });
  console.log(r.status, await r.text());
}
const r = await fetch(`${server.url}/api/v1/codes?since=0`, { headers: h });
console.log(r.status, await r.text());
console.log((await fetch(`${server.url}/readyz`)).status);
await server.stop();
