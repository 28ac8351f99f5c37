#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { ListenOptions } from './commands/listen.js';
import type { PublishOptions } from './commands/publish.js';
import { DEFAULT_URL } from './commands/remote.js';
import { settingsHelp } from './settings-help.js';
import { migrate, tokenCreate, tokenRevoke, userAdd, userList, userSetDisabled } from './commands/admin-commands.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('codecast')
  .description('Real-time code broadcast server. Settings come from environment variables: `codecast serve --help` lists them.')
  .version(version);

// The server and its transports load only for `serve`, so the user and token
// commands start quickly.
program
  .command('serve')
  .description('start the server (what `npm start` runs)')
  .addHelpText('after', settingsHelp)
  .action(async () => (await import('./commands/serve.js')).serve());
program.command('migrate').description('apply pending database migrations and exit').action(migrate);
program
  .command('backup <file>')
  .description('copy the live SQLite database to FILE, consistently, while the server runs (PostgreSQL: pg_dump)')
  .option('--force', 'overwrite FILE if it exists')
  .action(async (file: string, options: { force?: boolean }) => (await import('./commands/backup.js')).backup(file, options));

const user = program.command('user').description('manage users (on the database in DATABASE_URL)');
user
  .command('add <name>')
  .description('create a user; prints its token alone on the last line')
  .option('--admin', 'make the user an admin')
  .action(userAdd);
user.command('list').description('list users').action(userList);
user
  .command('disable <name>')
  .description('disable a user; its connections close')
  .action((name: string) => userSetDisabled(name, true));
user
  .command('enable <name>')
  .description('enable a disabled user')
  .action((name: string) => userSetDisabled(name, false));

const token = program.command('token').description('manage tokens');
token
  .command('create <name>')
  .description('create another token for a user; prints it alone on the last line')
  .option('--label <label>', 'a note on what the token is for')
  .action(tokenCreate);
token.command('revoke <id>').description('revoke a token by id; its connections close').action(tokenRevoke);

const remoteHelp = `\nThe server and token may also come from CODECAST_URL and CODECAST_TOKEN.`;
program
  .command('publish <code>')
  .description('publish a code to a running server')
  .option('--value <number>', "the code's value")
  .option('--type <word>', 'a short word: drop, promo, join…')
  .option('--message <text>', 'a message shown with the code')
  .option('--ttl <seconds>', 'expire the code after this many seconds')
  .option('--source <word>', 'where the code comes from', 'cli')
  .option('--idempotency-key <key>', 'a retry with the same key is not published twice')
  .option('--url <url>', `the server (default ${DEFAULT_URL})`)
  .option('--token <token>', 'an admin token')
  .option('--json', 'print the answer as JSON')
  .addHelpText('after', remoteHelp)
  .action(async (code: string, options: PublishOptions) => (await import('./commands/publish.js')).publish(code, options));
program
  .command('listen')
  .description('print codes as they are published; reconnects and resumes by itself (Ctrl-C stops)')
  .option('--since <id>', 'first replay the codes after this id')
  .option('--transport <name>', 'sse or websocket', 'sse')
  .option('--url <url>', `the server (default ${DEFAULT_URL})`)
  .option('--token <token>', 'a user token')
  .option('--json', 'print each code as a JSON line')
  .addHelpText('after', remoteHelp)
  .action(async (options: ListenOptions) => (await import('./commands/listen.js')).listen(options));

program
  .command('bench')
  .description('run the benchmark harness of a checkout (bench/); `codecast bench --help` lists its options')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[options...]', 'passed to the harness')
  .action(async (args: string[]) => (await import('./commands/bench.js')).bench(args));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Say what went wrong in one line (a port in use, an unreadable database);
  // the stack helps nobody running the command.
  process.stderr.write(`codecast: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
