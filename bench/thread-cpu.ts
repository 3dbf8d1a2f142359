import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time the process's main thread used so far, in µs (Linux /proc, 10 ms resolution), or undefined elsewhere: the
 * rest of process.cpuUsage() is other threads (a reading thread, V8's helpers), so a phase can say which thread did what.
 */
export function mainThreadCpuMicros(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces, so split after its closing parenthesis): utime, stime
    // are the 14th and 15th of the whole line, the 12th and 13th after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
