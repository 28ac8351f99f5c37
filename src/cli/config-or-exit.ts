import { ConfigError, loadConfig, unknownSettings, type Config } from '../config/index.js';

/**
 * Loads the config, or prints every problem and exits with status 2. A
 * variable that looks like a setting but is none gets a warning on
 * standard error: a typo would otherwise leave the default in force unseen.
 */
export function configOrExit(): Config {
  for (const warning of unknownSettings(process.env)) process.stderr.write(`codecast: warning: ${warning}\n`);
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`codecast: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
