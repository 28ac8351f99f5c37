// What every cluster fault test asserts at the end, with failure messages
// that say which subscriber, which ids are missing or extra, and what the
// nodes logged last.
import pg from 'pg';
import type { Cluster } from './cluster.js';
import type { ClusterSubscriber } from './cluster-subscriber.js';

/** `[1,2,3,7,9,10]` as `1-3,7,9-10`: a list of hundreds of ids stays readable. */
export function ranges(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length === 0 ? '(none)' : parts.join(',');
}

function problemsOf(subscriber: ClusterSubscriber, expected: ReadonlySet<number>): string[] {
  const problems = [...subscriber.failures];
  const ids = subscriber.codeIds;
  for (let i = 1; i < ids.length; i++) {
    if (ids[i]! <= ids[i - 1]!) problems.push(`not strictly increasing at position ${i}: ${ids[i - 1]} then ${ids[i]}`);
  }
  const got = new Set(ids);
  const missing = [...expected].filter((id) => !got.has(id));
  const extra = [...got].filter((id) => !expected.has(id));
  if (missing.length > 0) problems.push(`missing ${missing.length}: ${ranges(missing)}`);
  if (extra.length > 0) problems.push(`extra (no 201) ${extra.length}: ${ranges(extra)}`);
  return problems;
}

/**
 * Waits (up to `settleMs`) until every subscriber holds every accepted id,
 * then a little longer for stragglers that should not come, and asserts
 * that each holds exactly the accepted ids, strictly increasing, no repeats,
 * and noticed no breach (a reset, a revoke before its code) on the way.
 */
export async function assertDelivered(
  cluster: Cluster,
  subscribers: readonly ClusterSubscriber[],
  acceptedIds: readonly number[],
  options: { settleMs?: number; what?: string } = {},
): Promise<void> {
  const expected = new Set(acceptedIds);
  const deadline = Date.now() + (options.settleMs ?? 15_000);
  const complete = () => subscribers.every((s) => s.codeIds.length >= expected.size && [...expected].every((id) => s.codeIds.includes(id)));
  while (!complete() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  // Anything that should not arrive has had a moment to.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const report: string[] = [];
  for (const subscriber of subscribers) {
    const problems = problemsOf(subscriber, expected);
    if (problems.length > 0) {
      report.push(
        `${subscriber.name} (home node${subscriber.home}, ${subscriber.codeIds.length} codes):\n    ${problems.join('\n    ')}\n    connections: ${subscriber.describeConnections()}`,
      );
    }
  }
  if (report.length > 0) {
    throw new Error(
      `${options.what ?? 'delivery'}: ${report.length} of ${subscribers.length} subscribers did not get exactly the ${expected.size} accepted ids (${ranges(acceptedIds)}):\n  ${report.join('\n  ')}\n${cluster.logTails()}`,
    );
  }
}

/** Every subscriber saw the same sequence of codes and revokes as the first one. */
export function assertSameTrail(cluster: Cluster, subscribers: readonly ClusterSubscriber[]): void {
  const [first, ...rest] = subscribers;
  if (!first) return;
  const line = (s: ClusterSubscriber) => s.trail.map((e) => (e.type === 'code' ? String(e.id) : `r${e.id}`));
  const reference = line(first);
  const report: string[] = [];
  for (const subscriber of rest) {
    const other = line(subscriber);
    const at = reference.findIndex((entry, i) => other[i] !== entry);
    if (at >= 0 || other.length !== reference.length) {
      const from = Math.max(0, (at >= 0 ? at : Math.min(other.length, reference.length)) - 3);
      report.push(
        `${subscriber.name} differs from ${first.name} at position ${at >= 0 ? at : Math.min(other.length, reference.length)}: ` +
          `${reference.slice(from, from + 10).join(' ')} vs ${other.slice(from, from + 10).join(' ')}`,
      );
    }
  }
  if (report.length > 0) throw new Error(`the sequence of codes and revokes differs:\n  ${report.join('\n  ')}\n${cluster.logTails(10)}`);
}

/** No subscriber lost its first connection: each has had one, still open. */
export function assertNeverDisconnected(cluster: Cluster, subscribers: readonly ClusterSubscriber[], what: string): void {
  const dropped = subscribers.filter((s) => s.connections.length !== 1 || s.current === undefined);
  if (dropped.length > 0) {
    throw new Error(
      `${what}: ${dropped.length} subscriber(s) were disconnected:\n  ${dropped.map((s) => `${s.name}: ${s.describeConnections()}`).join('\n  ')}\n${cluster.logTails(15)}`,
    );
  }
}

/** The ids of the codes the database holds, ascending. */
export async function storedCodeIds(databaseUrl: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<{ id: string | number }>('select id from codes order by id');
    return result.rows.map((row) => Number(row.id));
  } finally {
    await client.end().catch(() => undefined);
  }
}
