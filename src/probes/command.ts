// Running the system tools some probes read (ping, ss).

import { execFile } from 'node:child_process';

/** The tool a probe runs is missing or failed: the round measured nothing (which is not "everything down"). */
export class ToolError extends Error {}

/**
 * Run `cmd` and resolve its stdout. Killed after `timeoutMs` or when
 * `signal` aborts (then stdout so far: the result is not used). Rejects with
 * ToolError when the tool is not installed and, unless `anyExit` (ping: its
 * exit status 1 or 2 and its time limit mean "no answer", a result), when it
 * exits with a non-zero status or runs out of time.
 */
export function runTool(cmd: string, args: string[], opts: { timeoutMs: number; signal?: AbortSignal; debianPackage: string; anyExit?: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs, signal: opts.signal, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean }) | null;
      if (e?.code === 'ENOENT') reject(new ToolError(`the ${cmd} command is not installed (Debian: apt-get install ${opts.debianPackage})`));
      else if (!e || opts.anyExit || opts.signal?.aborted) resolve(stdout ?? '');
      else if (e.killed) reject(new ToolError(`${cmd} did not finish within ${opts.timeoutMs / 1000} s`));
      else reject(new ToolError(`${cmd} failed (exit status ${e.code}): ${String(stderr).trim().split('\n')[0] || 'no message'}`));
    });
  });
}
