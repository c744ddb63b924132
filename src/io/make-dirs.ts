/**
 * `mkdir -p` that always ends. Node's `mkdir(dir, { recursive: true })` never returns for a path under procfs or
 * sysfs (`/proc/x/y`): the kernel answers ENOENT although the parent exists, and Node retries the parent forever
 * (measured with Node 20.20, burning a CPU). Creating one level at a time gets the ENOENT back as an error.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from './error-code.js';

/** Creates `dir` and its missing parents; rejects with the first error other than "it exists". */
export async function makeDirs(dir: string): Promise<void> {
  const absolute = path.resolve(dir);
  const levels: string[] = [];
  for (let d = absolute; d !== path.dirname(d); d = path.dirname(d)) levels.unshift(d);
  for (const level of levels) {
    try {
      await mkdir(level);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
  }
}
