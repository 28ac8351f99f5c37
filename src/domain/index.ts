export * from './code.js';
export * from './user.js';
export { errorCatalog, CodecastError, type ErrorCode } from './errors.js';
export * from './wire-input.js';
