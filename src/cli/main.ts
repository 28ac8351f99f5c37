#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { migrate, tokenCreate, tokenRevoke, userAdd, userList, userSetDisabled } from './commands/admin-commands.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('codecast')
  .description('Real-time code broadcast server. Settings come from environment variables (see README).')
  .version(version);

// The server and its transports load only for `serve`, so the user and token
// commands start quickly.
program
  .command('serve')
  .description('start the server (what `npm start` runs)')
  .action(async () => (await import('./commands/serve.js')).serve());
program.command('migrate').description('apply pending database migrations and exit').action(migrate);

const user = program.command('user').description('manage users (on the database in DATABASE_URL)');
user
  .command('add <name>')
  .description('create a user; prints its token alone on the last line')
  .option('--admin', 'make the user an admin')
  .action(userAdd);
user.command('list').description('list users').action(userList);
user.command('disable <name>').description('disable a user; its connections close').action((name: string) => userSetDisabled(name, true));
user.command('enable <name>').description('enable a disabled user').action((name: string) => userSetDisabled(name, false));

const token = program.command('token').description('manage tokens');
token
  .command('create <name>')
  .description("create another token for a user; prints it alone on the last line")
  .option('--label <label>', 'a note on what the token is for')
  .action(tokenCreate);
token.command('revoke <id>').description('revoke a token by id; its connections close').action(tokenRevoke);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Say what went wrong in one line (a port in use, an unreadable database);
  // the stack helps nobody running the command.
  process.stderr.write(`codecast: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
