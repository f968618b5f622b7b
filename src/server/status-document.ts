// The /status document: what a server is, its store against its bound, and its traffic (hit
// rates in all, per protocol and per namespace; requests, bytes, failures by cause; the
// slowest recent requests). `hoard status` prints it and the status page draws it; both
// read it defensively, so fields may be added but never renamed.
import type { Activity, ErrorCount, LookupCounts, SlowRequest } from '../metrics/activity.ts';
import type { StoreUsage, TierUsage } from '../storage/store.ts';
import { tiersOf } from '../storage/tier.ts';
import type { HistoryDocument } from './status-history.ts';

/** The facts /status reports. */
export interface StatusFacts {
  readonly version: string;
  readonly startedAt: Date;
  readonly draining: boolean;
  readonly listeners: { http?: string; grpc?: string };
  /** Threads serving requests (1: the main thread itself). */
  readonly workers: number;
  readonly storeDir: string;
  readonly usage: StoreUsage;
  /** Every thread's traffic, summed. */
  readonly activity: Activity;
}

export interface CountsWithRate extends LookupCounts {
  /** hits / (hits + misses); null before the first lookup. */
  readonly hitRate: number | null;
}

export interface StatusDocument {
  readonly name: 'hoard';
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly draining: boolean;
  readonly listeners: { http?: string; grpc?: string };
  readonly workers: number;
  /** The stack's figures (its front tier's), then every tier's own, front first. */
  readonly store: StoreUsage & { readonly dir: string; readonly tiers: readonly TierUsage[] };
  readonly lookups: CountsWithRate & {
    readonly protocols: Readonly<Record<string, CountsWithRate>>;
    /** The namespaces with the most lookups, most first; at most MAX_NAMESPACES_LISTED. */
    readonly namespaces: readonly (CountsWithRate & { readonly namespace: string })[];
  };
  /** Requests answered (operator endpoints not counted) and their body bytes. */
  readonly traffic: { readonly requests: number; readonly bytesReceived: number; readonly bytesSent: number };
  readonly errors: { readonly total: number; readonly causes: readonly ErrorCount[] };
  /** The slowest requests of the last hour, slowest first; `at` as an ISO date. */
  readonly slowest: readonly (Omit<SlowRequest, 'at'> & { readonly at: string })[];
  /** Only when asked for (`/status?history`): the samples the status page charts. */
  readonly history?: HistoryDocument;
}

export const MAX_NAMESPACES_LISTED = 20;

export function statusDocument(facts: StatusFacts): StatusDocument {
  const { lookups, requests, bytesReceived, bytesSent, errors, slowest } = facts.activity;
  return {
    name: 'hoard',
    version: facts.version,
    startedAt: facts.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - facts.startedAt.getTime()) / 1000),
    draining: facts.draining,
    listeners: facts.listeners,
    workers: facts.workers,
    store: { dir: facts.storeDir, ...facts.usage, tiers: tiersOf(facts.usage) },
    lookups: {
      ...withHitRate(lookups),
      protocols: Object.fromEntries(Object.entries(lookups.protocols).map(([p, counts]) => [p, withHitRate(counts)])),
      namespaces: Object.entries(lookups.namespaces)
        .sort(([a, x], [b, y]) => y.hits + y.misses - (x.hits + x.misses) || a.localeCompare(b))
        .slice(0, MAX_NAMESPACES_LISTED)
        .map(([namespace, counts]) => ({ namespace, ...withHitRate(counts) })),
    },
    traffic: { requests, bytesReceived, bytesSent },
    errors: { total: errors.reduce((sum, e) => sum + e.count, 0), causes: errors },
    slowest: slowest.map((r) => ({ ...r, at: new Date(r.at).toISOString() })),
  };
}

function withHitRate({ hits, misses }: LookupCounts): CountsWithRate {
  const lookups = hits + misses;
  return { hits, misses, hitRate: lookups === 0 ? null : hits / lookups };
}
