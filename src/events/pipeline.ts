/**
 * The one event path of the daemon and of `outpost replay`: build → enrich → observe →
 * transform → outputs.
 *
 * Builders (this folder) make an event; every stage then sees it in a fixed order:
 *   1. enrich: stages add context to the event in place (device and user, cloud app);
 *   2. observe: stages look at the enriched event (rollups) without changing it;
 *   3. transform: stages may hand on another object (pseudonymised user) for the outputs only,
 *      so local consumers (rollups, the console) keep what they need;
 *   4. outputs: the asked-for event kinds go to stdout, the outbox, a test's array.
 * What a stage learns while enriching that a later stage needs (the app a flow was matched to)
 * travels in an EventContext beside the event, never by recognising the same object later.
 * Runs once per event, never per packet; synchronous, so event order is the order of emission.
 */
import type { NetworkActivityEvent } from './network-activity.js';
import type { DnsActivityEvent } from './dns-activity.js';
import type { HttpActivityEvent } from './http-activity.js';
import type { DhcpActivityEvent, InventoryInfoEvent } from './device-events.js';
import type { ApiActivityEvent } from './api-activity.js';
import type { DiscoverySummaryEvent } from './discovery-summary.js';
import type { EventKindName } from './config.js';
import type { AuthenticationEvent } from './authentication.js';

/** Every event class Outpost writes; `class_uid` narrows it. */
export type OutpostEvent =
  | NetworkActivityEvent
  | DnsActivityEvent
  | HttpActivityEvent
  | DhcpActivityEvent
  | InventoryInfoEvent
  | ApiActivityEvent
  | DiscoverySummaryEvent
  | AuthenticationEvent;

/**
 * The event kinds an administrator asks for (`events.emit`, `--emit`; EVENT_KIND_NAMES in
 * ./config.ts), by OCSF class. `satisfies` makes a kind added to the configuration without its
 * class here a compile error.
 */
export const EVENT_KIND_CLASSES = {
  network: 4001,
  dns: 4003,
  http: 4002,
  dhcp: 4004,
  inventory: 5001,
  auth: 3002,
} as const satisfies Record<EventKindName, number>;
export type EventKind = keyof typeof EVENT_KIND_CLASSES;

/** EVENT_KIND_CLASSES the other way round, built once. */
const KIND_OF_CLASS: ReadonlyMap<number, EventKind> = new Map(
  (Object.entries(EVENT_KIND_CLASSES) as Array<[EventKind, number]>).map(([kind, cls]) => [cls, kind]));

/** The kind of an event, or undefined for classes that are always written (audit, summaries). */
export function eventKindOf(ev: OutpostEvent): EventKind | undefined {
  return KIND_OF_CLASS.get(ev.class_uid);
}

/** What stages learned about the event being processed; reset for every event. */
export interface EventContext {
  /** The cloud app the enrich stage matched: an id, null when it looked and found none, undefined when it did not look. */
  appId: string | null | undefined;
}

export interface EventStage {
  readonly name: string;
  enrich?(ev: OutpostEvent, ctx: EventContext): void;
  observe?(ev: OutpostEvent, ctx: EventContext): void;
  /** The object the outputs get instead of `ev` (a copy when anything changes; `ev` itself otherwise). */
  transform?(ev: OutpostEvent): OutpostEvent;
}

export type EventOutput = (ev: OutpostEvent) => void;

export interface EventPipelineOptions {
  stages?: readonly EventStage[];
  outputs?: readonly EventOutput[];
  /**
   * Kinds written to the outputs; events of other kinds are still built, enriched and observed
   * (rollups need Network Activity even when only DHCP events are written). Undefined: all.
   */
  write?: ReadonlySet<EventKind>;
}

export class EventPipeline {
  private readonly enrichers: EventStage[];
  private readonly observers: EventStage[];
  private readonly transformers: EventStage[];
  private readonly outputs: EventOutput[];
  private readonly write: ReadonlySet<EventKind> | undefined;
  /**
   * The class uids of the kinds not written (eventKindOf's classes whose kind `write` lacks),
   * checked per event by a scan of at most six numbers instead of a Map and a Set lookup.
   */
  private readonly unwritten: number[];
  /** One context object, reset per event: emission is synchronous and never re-entrant per event. */
  private readonly ctx: EventContext = { appId: undefined };
  /** Events that went through the pipeline, and those written to the outputs. */
  processed = 0;
  written = 0;

  constructor(options: EventPipelineOptions = {}) {
    const stages = options.stages ?? [];
    this.enrichers = stages.filter((s) => s.enrich !== undefined);
    this.observers = stages.filter((s) => s.observe !== undefined);
    this.transformers = stages.filter((s) => s.transform !== undefined);
    this.outputs = [...(options.outputs ?? [])];
    this.write = options.write;
    const write = options.write;
    this.unwritten = write === undefined ? []
      : (Object.entries(EVENT_KIND_CLASSES) as Array<[EventKind, number]>).filter(([kind]) => !write.has(kind)).map(([, cls]) => cls);
  }

  /** Adds an output (the daemon's stdout writer and outbox, a test's collector). */
  addOutput(output: EventOutput): void {
    this.outputs.push(output);
  }

  /** Whether events of this kind reach the outputs. */
  writes(kind: EventKind): boolean {
    return this.write === undefined || this.write.has(kind);
  }

  readonly emit = (ev: OutpostEvent): void => {
    this.processed++;
    const ctx = this.ctx;
    ctx.appId = undefined;
    for (let i = 0; i < this.enrichers.length; i++) this.enrichers[i]!.enrich!(ev, ctx);
    for (let i = 0; i < this.observers.length; i++) this.observers[i]!.observe!(ev, ctx);
    const cls = ev.class_uid, unwritten = this.unwritten;
    for (let i = 0; i < unwritten.length; i++) if (unwritten[i] === cls) return;
    let out = ev;
    for (let i = 0; i < this.transformers.length; i++) out = this.transformers[i]!.transform!(out);
    this.written++;
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!(out);
  };

  counters(): Record<string, number> {
    return { 'events.processed': this.processed, 'events.written': this.written };
  }
}
