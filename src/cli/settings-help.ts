import { settingsTable } from '../config/index.js';

/** Every environment variable with its default and meaning, for `codecast serve --help`; from the one settings table. */
export function settingsHelp(): string {
  const lines = ['', 'Settings (environment variables; the README has the same table):'];
  for (const spec of settingsTable) {
    lines.push(`  ${spec.env}${spec.default === undefined ? ' (unset)' : `=${spec.default}`}`);
    lines.push(`      ${spec.description.replaceAll('`', '')}`);
  }
  return lines.join('\n');
}
