/**
 * Characters no short field may hold: control characters (Cc), format
 * characters (Cf — bidirectional overrides and isolates U+202A-U+202E and
 * U+2066-U+2069, zero-width U+200B-U+200F, the soft hyphen U+00AD, the BOM
 * U+FEFF…) and line and paragraph separators. Format characters are
 * invisible: they let two codes that look the same differ, or make a code
 * display reordered (a "Trojan Source" trick).
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * What a message may not hold: the same, except that newlines and tabs are
 * text there, and the zero-width joiner and non-joiner (U+200C, U+200D) that
 * emoji sequences and several scripts are written with.
 */
export const INVISIBLE_IN_MESSAGE = /(?![\n\t\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Length in characters (code points), not UTF-16 units. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Text as stored: trimmed and in Unicode NFC, so that one text has one
 * spelling (`café` typed with a precomposed é or with e and a combining
 * accent are the same). Undefined when the text is not well-formed UTF-16
 * (an unpaired surrogate), which no normalisation can mend.
 */
export function canonicalText(text: string): string | undefined {
  if (!text.isWellFormed()) return undefined;
  return text.normalize('NFC').trim();
}
