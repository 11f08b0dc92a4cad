/** Whether a program is on the PATH (POSIX shells' `command -v`): for the Linux-only scripts. */
import { execFileSync } from 'node:child_process';

export function which(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
