/**
 * Extra V8 or Node flags for the processes a run starts, from an environment
 * variable (space-separated), e.g. `CODECAST_BENCH_SERVER_FLAGS=--trace-gc`
 * to line a run's latency spikes up with the servers' collections. Empty when
 * unset, so ordinary runs are unchanged.
 */
export function extraNodeFlags(variable: 'CODECAST_BENCH_SERVER_FLAGS' | 'CODECAST_BENCH_CLIENT_FLAGS'): string[] {
  return (process.env[variable] ?? '').split(/\s+/).filter((flag) => flag !== '');
}
