export { loadConfig, ConfigError, type BrokerTarget, type Config, type DatabaseTarget, type JwtConfig } from './config.js';
export { settingsTable, type SettingSpec } from './settings-table.js';
export { describeDatabase, redactDatabaseUrl, DATABASE_URL_FORMS } from './database-url.js';
export { unknownSettings } from './unknown-settings.js';
export { JWT_ALGORITHMS, type JwtAlgorithm } from './jwt-keys.js';
