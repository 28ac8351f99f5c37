import type { FastifyValidationResult } from 'fastify/types/schema.js';
import { CodecastError, plainDecimal } from '../domain/index.js';

type ValidateFunction = FastifyValidationResult;

interface ObjectSchema {
  readonly properties?: Readonly<Record<string, { readonly type?: unknown }>>;
}

/** The names of a query or params schema's integer fields. */
function integerFields(schema: object): string[] {
  const properties = (schema as ObjectSchema).properties ?? {};
  return Object.entries(properties)
    .filter(([, property]) => property.type === 'integer')
    .map(([name]) => name);
}

/**
 * Wraps the validator of a query string or path parameters so that every
 * integer field must be written as plain decimal digits before Ajv coerces
 * it: Ajv's coercion would take `0x2`, `2e0`, `+2`, `0b10` and ` 2` as 2.
 * This is the one place every numeric id and query parameter is held to it.
 */
export function strictIntegers(schema: object, validate: ValidateFunction, part: string): ValidateFunction {
  const fields = integerFields(schema);
  if (fields.length === 0) return validate;
  const where = part === 'params' ? 'The path parameter' : 'The query parameter';
  const wrapped: ValidateFunction = (data) => {
    if (data !== null && typeof data === 'object') {
      for (const field of fields) {
        const value = (data as Record<string, unknown>)[field];
        if (value === undefined) continue;
        if (typeof value !== 'string' || plainDecimal(value) === undefined) {
          return {
            error: new CodecastError(
              'invalid_request',
              `${where} ${field} must be a whole number in plain decimal digits (at most ${Number.MAX_SAFE_INTEGER}).`,
            ),
          };
        }
      }
    }
    const valid = validate(data);
    wrapped.errors = validate.errors;
    return valid;
  };
  return wrapped;
}
