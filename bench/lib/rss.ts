// Resident memory of server processes, from /proc (Linux): what a server holds while it
// takes an upload. VmRSS is sampled on a timer; VmHWM (the kernel's high-water mark) catches
// a peak between two samples, once it has been reset for the interval by writing 5 to
// /proc/PID/clear_refs (allowed for our own children; when it is refused, the samples alone
// count). A server's request threads are threads of its process: one VmRSS counts them all.
import { readFileSync, writeFileSync } from 'node:fs';

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM: the kernel prints kB); undefined once gone. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m?.[1] ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The resident set of `pids` summed, in bytes (0 for a process that is gone). */
export function rssBytes(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (statusBytes(pid, 'VmRSS') ?? 0), 0);
}

/** Resets the kernel's peak RSS of `pid` to its current RSS; false when not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface RssGrowth {
  /** RSS when sampling started (bytes, all pids). */
  readonly baseline: number;
  /** The highest RSS seen meanwhile: by the samples, or by VmHWM when it could be reset. */
  readonly peak: number;
  /** peak - baseline, never below 0. */
  readonly growth: number;
  readonly samples: number;
  /** Whether the peak includes the kernel's high-water mark (no peak between samples missed). */
  readonly highWaterMark: boolean;
}

export interface RssSampler {
  stop(): RssGrowth;
}

/** Samples the RSS of `pids` every `everyMs` from now until stop(). */
export function startRssSampler(pids: readonly number[], everyMs = 20): RssSampler {
  const reset = pids.length > 0 && pids.every(resetPeak);
  const baseline = rssBytes(pids);
  let peak = baseline;
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pids));
    samples++;
  }, everyMs);
  return {
    stop(): RssGrowth {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pids));
      samples++;
      if (reset) {
        const hwm = pids.reduce((sum, pid) => sum + (statusBytes(pid, 'VmHWM') ?? 0), 0);
        peak = Math.max(peak, hwm);
      }
      return { baseline, peak, growth: Math.max(0, peak - baseline), samples, highWaterMark: reset };
    },
  };
}
