export * from './code.js';
export * from './user.js';
export {
  errorCatalog,
  CodecastError,
  DatabaseUnavailableError,
  unavailableMessage,
  type ErrorCode,
  type UnavailableReason,
} from './errors.js';
export * from './wire-input.js';
