import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `codecast bench …`: the harness lives in the repository's bench/ folder
 * (TypeScript, run by tsx, a development dependency), so this runs it when
 * codecast is a checkout and says so when it is not.
 */
export async function bench(args: string[]): Promise<void> {
  const harness = fileURLToPath(new URL('../../../bench/run.ts', import.meta.url));
  if (!existsSync(harness)) {
    process.stderr.write('codecast: the benchmark harness ships with the repository (bench/run.ts); run this from a checkout\n');
    process.exit(2);
  }
  const child = spawn(process.execPath, ['--import', 'tsx', harness, ...args], { stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
  process.exitCode = code;
}
