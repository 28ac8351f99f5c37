import { ConfigError, loadConfig, type Config } from '../config/index.js';

/** Loads the config, or prints every problem and exits with status 2. */
export function configOrExit(): Config {
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
