// Running the system tools some probes read (ping, ss).

import { execFile } from 'node:child_process';

/** The tool a probe runs is not installed: its rounds cannot measure anything. */
export class ToolMissingError extends Error {}

/**
 * Run `cmd` and resolve its stdout, whatever its exit status (ping exits 1
 * when nothing answered: that is a result). Killed after `timeoutMs` or when
 * `signal` aborts (stdout so far). Rejects only with ToolMissingError.
 */
export function runTool(cmd: string, args: string[], opts: { timeoutMs: number; signal?: AbortSignal; debianPackage: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs, signal: opts.signal, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }, (err, stdout) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new ToolMissingError(`the ${cmd} command is not installed (Debian: apt-get install ${opts.debianPackage})`));
      else resolve(stdout ?? '');
    });
  });
}
