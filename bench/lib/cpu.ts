// CPU accounting for benchmark runs, from /proc (Linux). Every figure the harness prints
// carries who used the CPU meanwhile: the server under test, the load generator, and the
// rest of the machine (other work sharing these cores). A throughput figure measured while
// the generator ate a core says something different from one where it idled.
//
// A process's figure is its whole thread group: /proc/PID/stat sums utime+stime over every
// thread, live or exited (a Node server's event loop, its worker_threads, libuv's pool, V8's
// helpers). /proc/PID/task/TID/stat splits that per thread, named by its comm (a
// worker_thread's `name`, e.g. MainThread, WorkerThread), which says where a server's
// time went: its store thread, or its request threads.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Kernel clock ticks per second for /proc times; 100 on every Linux we run on. */
const CLOCK_TICKS = 100;

export const CORES = cpus().length;

/** utime+stime in seconds from a /proc stat file (a process's or one thread's); undefined once it is gone. */
function statCpuSeconds(file: string): number | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    // The command name (field 2) may contain spaces and ')': fields restart after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state is index 0, utime is field 14 overall → index 11, stime → 12.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** utime+stime of a process (all its threads, exited ones included), in seconds; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of each live thread of `pids`, keyed "pid/tid", with its comm name. */
function threadCpuSeconds(pids: readonly number[]): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone
    }
    for (const tid of tids) {
      const dir = `/proc/${pid}/task/${tid}`;
      const seconds = statCpuSeconds(`${dir}/stat`);
      if (seconds === undefined) continue; // exited meanwhile
      let name = '?';
      try {
        name = readFileSync(`${dir}/comm`, 'utf8').trim();
      } catch {
        // exited between the two reads: its time still counts, under no name
      }
      out.set(`${pid}/${tid}`, { name, seconds });
    }
  }
  return out;
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime+cstime).
 * A generator child like wrk is gone by the time its run is over; its CPU lands here.
 */
function reapedChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineCpuSeconds(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is already inside user).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: busy / CLOCK_TICKS, total: (busy + idle + iowait) / CLOCK_TICKS };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** CPU use over one measured interval, as shares of the whole machine (1.0 = every core busy). */
export interface CpuShares {
  readonly wallSeconds: number;
  /** Server process(es) under test. */
  readonly server: number;
  /** Load generator (a child like wrk, or this process when the generator runs in-process). */
  readonly generator: number;
  /** Everything else on the machine during the interval (other users, the kernel's own work). */
  readonly other: number;
  /**
   * The server's busiest threads during the interval, busiest first, in cores (1.0 = one
   * core busy the whole interval). Threads that exited meanwhile are missing here but
   * counted in `server`.
   */
  readonly serverThreads?: readonly ThreadCpu[];
}

export interface ThreadCpu {
  /** The thread's comm: MainThread, WorkerThread or a worker_thread's name, libuv-worker, V8Worker… */
  readonly name: string;
  readonly cores: number;
}

/** A share of the whole machine (CpuShares) as cores: 0.5 on 2 cores is 1.0 core. */
export function cores(share: number): number {
  return share * CORES;
}

export interface CpuSampler {
  stop(): CpuShares;
}

/**
 * Starts counting. `serverPids` are the server processes to attribute; with
 * `generatorInProcess` this process's own CPU counts as the generator's (in-process load).
 */
export function startCpuSampler(options: {
  readonly serverPids?: readonly number[];
  readonly generatorInProcess?: boolean;
  /** Count children of this process that exit during the interval (wrk) as the generator. */
  readonly generatorExitedChildren?: boolean;
}): CpuSampler {
  const serverPids = options.serverPids ?? [];
  const sum = (pids: readonly number[]) => pids.reduce((acc, pid) => acc + (processCpuSeconds(pid) ?? 0), 0);
  const t0 = performance.now();
  const m0 = machineCpuSeconds();
  const s0 = sum(serverPids);
  const threads0 = threadCpuSeconds(serverPids);
  const self0 = process.cpuUsage();
  const reaped0 = reapedChildrenCpuSeconds();
  return {
    stop(): CpuShares {
      const wallSeconds = (performance.now() - t0) / 1000;
      const m1 = machineCpuSeconds();
      // A child that exited before stop() reads 0: callers sample generators before they exit.
      const server = Math.max(0, sum(serverPids) - s0);
      const threads = [...threadCpuSeconds(serverPids)]
        .map(([key, t]) => ({ name: t.name, cores: (t.seconds - (threads0.get(key)?.seconds ?? 0)) / wallSeconds }))
        .filter((t) => t.cores > 0)
        .sort((a, b) => b.cores - a.cores);
      let generator = 0;
      if (options.generatorInProcess) {
        const d = process.cpuUsage(self0);
        generator += (d.user + d.system) / 1e6;
      }
      if (options.generatorExitedChildren) generator += reapedChildrenCpuSeconds() - reaped0;
      const capacity = wallSeconds * CORES;
      const busy = m1.busy - m0.busy;
      const share = (x: number) => (capacity > 0 ? x / capacity : 0);
      return {
        wallSeconds,
        server: share(server),
        generator: share(generator),
        other: share(Math.max(0, busy - server - generator)),
        serverThreads: wallSeconds > 0 ? threads : [],
      };
    },
  };
}

/** "gen 12% · srv 61% · other 9%" (of the whole machine: CORES cores = 100%). */
export function formatShares(s: CpuShares): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  return `gen ${pct(s.generator)} · srv ${pct(s.server)} · other ${pct(s.other)}`;
}

/** Thread pools whose threads matter only together: V8's platform helpers (GC, compiling) and libuv's pool (fs, crypto). */
const POOLS = new Set(['V8Worker', 'libuv-worker']);

/**
 * "MainThread 0.92 · WorkerThread 0.51 · WorkerThread 0.47 · V8Worker×4 0.12": the `top`
 * busiest threads above 0.02 cores, each pool's threads summed as one.
 */
export function formatThreads(threads: readonly ThreadCpu[] | undefined, top = 4): string {
  const pools = new Map<string, { name: string; cores: number; count: number }>();
  const each: { name: string; cores: number; count: number }[] = [];
  for (const t of threads ?? []) {
    if (!POOLS.has(t.name)) {
      each.push({ ...t, count: 1 });
      continue;
    }
    const pool = pools.get(t.name) ?? { name: t.name, cores: 0, count: 0 };
    pool.cores += t.cores;
    pool.count++;
    pools.set(t.name, pool);
  }
  return [...each, ...pools.values()]
    .filter((t) => t.cores >= 0.02)
    .sort((a, b) => b.cores - a.cores)
    .slice(0, top)
    .map((t) => `${t.name}${t.count > 1 ? `×${t.count}` : ''} ${t.cores.toFixed(2)}`)
    .join(' · ');
}
