/**
 * On-CPU time of processes in nanoseconds from /proc/PID/task/TID/schedstat: finer than the
 * 10 ms ticks of /proc/PID/stat, which matters for runs of a few seconds. For a service with
 * worker processes (the postmaster and its backends), the whole tree is summed.
 *
 * @module
 */

/**
 * CPU time of a process: the sum over its threads. 0 once the process is gone.
 *
 * @example
 * ```ts
 * const before = cpuNs(Deno.pid);
 * ```
 */
export function cpuNs(pid: number): number {
  let total = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`).split(" ")[0],
        );
      } catch {
        // the thread exited while we looked
      }
    }
  } catch {
    return 0;
  }
  return total;
}

/**
 * CPU time of a process and its direct children (the postmaster and its backends, WAL
 * writer, checkpointer…). A child that exited meanwhile is not counted.
 *
 * @example
 * ```ts
 * const postgres = treeNs(postmasterPid);
 * ```
 */
export function treeNs(root: number): number {
  let total = cpuNs(root);
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === root) total += cpuNs(Number(entry.name));
    } catch {
      // exited while we looked
    }
  }
  return total;
}
