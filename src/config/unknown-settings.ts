import { settingsTable } from './settings-table.js';

/** Prefixes of codecast's own variables: one that starts so and is not known is most likely a typo. */
const OURS = /^(CODECAST_|USER_CACHE_|USER_NEGATIVE_CACHE_)/;

/** Variables of ours that are not server settings: the CLI's client commands, the tests and the bench. */
const ELSEWHERE = /^CODECAST_(URL|TOKEN|TEST_[A-Z0-9_]+|BENCH_[A-Z0-9_]+)$/;

/** Edit distance, insertions, deletions and substitutions counting one each. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * A warning for every variable in `env` that looks like one of codecast's
 * settings but is none (a typo silently leaves the default in force), with
 * the closest known name when one is close.
 */
export function unknownSettings(env: Record<string, string | undefined>): string[] {
  const known: readonly string[] = settingsTable.map((spec) => spec.env);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!OURS.test(name) || ELSEWHERE.test(name) || known.includes(name)) continue;
    let closest: string | undefined;
    let best = Number.POSITIVE_INFINITY;
    for (const candidate of known) {
      // A name cut short (USER_CACHE_TTL for USER_CACHE_TTL_SECONDS) is as near as a typo.
      const d = candidate.startsWith(`${name}_`) ? 1 : distance(name, candidate);
      if (d < best) {
        best = d;
        closest = candidate;
      }
    }
    const near = closest !== undefined && best <= Math.max(3, Math.floor(name.length / 4));
    warnings.push(
      `${name} is not a setting codecast reads, so it has no effect${near ? `; did you mean ${closest}?` : ''} (\`codecast serve --help\` lists them)`,
    );
  }
  return warnings;
}
