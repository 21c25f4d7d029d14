/**
 * Durable forwarding, assembled: createForwarding(cfg, logger, dataDir) opens the outbox
 * (synchronously, so `sink` works at once) and returns
 *   - sink(event): append to the outbox (never throws; refusals and drops are counted),
 *   - services: [outbox service, one service per enabled sink] for the daemon's ServiceGroup —
 *     put them BEFORE capture so they stop AFTER it (the final flow flush must reach the outbox),
 *   - status(): outbox and per-sink counters for GET /v1/stats,
 *   - deadLetters(sink, limit): batches a receiver rejected.
 */
import { isAbsolute, join } from 'node:path';
import { OutpostError } from '../errors.js';
import type { Service } from '../lifecycle.js';
import type { ForwardConfig } from './config.js';
import { Outbox } from './outbox.js';
import { SinkRunner, type Sink, type SinkLogger } from './sink.js';
import type { SinkCommon } from './settings.js';
import { sinkTypeEntries } from './sinks/index.js';

export interface ForwardLogger extends SinkLogger {
  child?(bindings: object): ForwardLogger;
}

export interface Forwarding {
  sink: (event: object) => void;
  services: Service[];
  status(): ForwardStatus;
  deadLetters(sink: string, limit?: number): DeadLetter[];
  outbox: Outbox;
  runners: SinkRunner[];
}

export interface ForwardStatus {
  outbox: Record<string, number | string>;
  sinks: Array<Record<string, unknown>>;
}

export interface DeadLetter {
  sink: string;
  seq: number;
  uid: string;
  status: number | null;
  reason: string;
  atMs: number;
  json: string;
}

export function createForwarding(cfg: ForwardConfig, logger: ForwardLogger, dataDir: string): Forwarding {
  const log = logger.child?.({ component: 'forward' }) ?? logger;
  const path = isAbsolute(cfg.outboxDir) ? cfg.outboxDir : join(dataDir, cfg.outboxDir);
  const specs: Array<[Sink, SinkCommon]> = [];
  const names = new Set<string>();
  const check = (name: string) => {
    if (names.has(name)) throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: name, reason: 'duplicate sink name' });
    names.add(name);
  };
  const configured: SinkCommon[] = [];
  // In table order (src/forward/sinks/index.ts): https, syslog, nats.
  for (const [type, t] of sinkTypeEntries()) {
    for (const s of cfg[type] as SinkCommon[]) {
      check(s.name);
      configured.push(s);
      if (s.enabled) specs.push([t.create(s), s]);
    }
  }

  const outbox = Outbox.open({
    path, maxBytes: cfg.outboxMaxBytes, maxAgeMs: cfg.outboxMaxAgeMs, fullPolicy: cfg.outboxFullPolicy, sync: cfg.outboxSync, logger: log,
    maxUncommittedMs: cfg.outboxMaxUncommittedMs, minFreeBytes: cfg.outboxMinFreeDiskMb * 1_048_576,
  });
  // Disabled sinks keep their cursor registered, so the outbox keeps their backlog.
  for (const s of configured) outbox.cursor(s.name);
  const runners = specs.map(([sink, settings]) => new SinkRunner(sink, settings, outbox, log));

  let sweepTimer: NodeJS.Timeout | undefined;
  let warnedRefused = 0;
  const services: Service[] = [
    {
      name: 'forward-outbox',
      async start() {
        sweepTimer = setInterval(() => {
          try {
            outbox.sweep();
          } catch (err) {
            log.error({ err, path }, 'outbox sweep failed');
          }
          const refused = outbox.counters.refused + outbox.counters.dropped;
          if (refused > warnedRefused) {
            log.warn({ path, refused: outbox.counters.refused, dropped: outbox.counters.dropped, policy: cfg.outboxFullPolicy }, 'forwarding outbox full: events refused or dropped');
            warnedRefused = refused;
          }
        }, cfg.outboxSweepIntervalMs);
        sweepTimer.unref();
      },
      async stop() {
        clearInterval(sweepTimer);
        await outbox.close();
      },
    },
    ...runners.map((r): Service => ({
      name: `forward-${r.sink.type}-${r.sink.name}`,
      async start(signal) { r.start(signal); },
      async stop() { await r.stop(); },
    })),
  ];

  return {
    outbox,
    runners,
    services,
    sink(event: object) {
      try {
        outbox.append(event);
      } catch (err) {
        log.error({ err, path }, 'outbox append failed');
      }
    },
    status(): ForwardStatus {
      const oldest = outbox.oldestAfter(outbox.tailSeq - 1);
      return {
        outbox: { ...outbox.stats(), oldest_age_ms: oldest === undefined ? 0 : Date.now() - oldest, path, policy: cfg.outboxFullPolicy, sync: cfg.outboxSync },
        sinks: runners.map((r) => r.status()),
      };
    },
    deadLetters(sink: string, limit = 100): DeadLetter[] {
      const out: DeadLetter[] = [];
      for (const { key, value } of outbox.dead.getRange({ start: [sink], end: [sink, Infinity], limit })) {
        const v = value as Omit<DeadLetter, 'sink' | 'seq'>;
        out.push({ sink, seq: (key as [string, number])[1], ...v });
      }
      return out;
    },
  };
}

export { Outbox } from './outbox.js';
export { forwardConfigSchema, resolveForwardConfig, DEFAULT_FORWARD_CONFIG, type ForwardConfig } from './config.js';
