/**
 * The sensor and its event pipeline, assembled one way for `outpost run` and `outpost replay`:
 * the same components (device identity, cloud-app discovery), the same stage order and the same
 * event kinds built and written, so the same traffic gives the same events live and replayed.
 *
 *   packets → Sensor (decode, flows, protocols, builders) → EventPipeline
 *     enrich: devices (device, actor.user) → discovery (app_name, cloud_app)
 *     observe: discovery rollups
 *     transform: discovery pseudonymisation (when configured)
 *     outputs: stdout (NDJSON), the forwarding outbox (daemon), a caller's collector
 *
 * The stores live in `dataDir`: the daemon's data directory, or a temporary one for a replay.
 */
import { join } from 'node:path';
import type { OutpostConfig } from './config/index.js';
import type { Logger } from './telemetry/logger.js';
import { Sensor, sensorEventKinds } from './sensor.js';
import { flowSettingsFromConfig } from './flows/settings.js';
import { EventPipeline, type EventKind, type EventOutput, type EventStage } from './events/pipeline.js';
import { DnsNameCache } from './protocols/dns/name-cache.js';
import { DeviceStore } from './devices/store.js';
import { DeviceIdentity } from './devices/identity.js';
import { Discovery } from './discovery/discovery.js';

/** Components of the pipeline besides the sensor itself, each on unless its config turns it off. */
export const COMPONENTS = ['devices', 'discovery'] as const;
export type Component = (typeof COMPONENTS)[number];

/** The components a configuration turns on (`devices.enabled`, `discovery.enabled`). */
export function configuredComponents(cfg: OutpostConfig): Set<Component> {
  const on = new Set<Component>();
  if (cfg.devices.enabled) on.add('devices');
  if (cfg.discovery.enabled) on.add('discovery');
  return on;
}

export interface AssembleOptions {
  cfg: OutpostConfig;
  /** Where the components' stores live. */
  dataDir: string;
  components: ReadonlySet<Component>;
  /** Event kinds written to the outputs (`events.emit`, `--emit`). */
  write: ReadonlySet<EventKind>;
  outputs: EventOutput[];
  /** A DNS name cache (the daemon's is persisted); by default an in-memory one. */
  nameCache?: DnsNameCache;
  logger?: Logger;
}

export interface Assembled {
  sensor: Sensor;
  pipeline: EventPipeline;
  deviceStore: DeviceStore | null;
  identity: DeviceIdentity | null;
  discovery: Discovery | null;
  /** Counters of the sensor, the pipeline and every component, for `--stats` and metrics. */
  counters(): Record<string, number>;
  /** Closes the components' stores (after the final flush). */
  close(): Promise<void>;
}

/**
 * The event kinds that must be built for the components to work, written or not: device
 * enrichment and discovery rollups work on Network Activity, so it is built whenever either is
 * on (and then dropped at the outputs unless asked for).
 */
export function builtKinds(write: ReadonlySet<EventKind>, components: ReadonlySet<Component>): Set<EventKind> {
  const built = new Set(write);
  if (components.size > 0) built.add('network');
  return built;
}

export async function assemble(o: AssembleOptions): Promise<Assembled> {
  const { cfg, components } = o;
  const built = builtKinds(o.write, components);
  let deviceStore: DeviceStore | null = null;
  let identity: DeviceIdentity | null = null;
  let discovery: Discovery | null = null;
  const stages: EventStage[] = [];
  if (components.has('discovery')) {
    discovery = new Discovery({ dataDir: o.dataDir, config: cfg.discovery, ...(o.logger ? { logger: o.logger.child({ component: 'discovery' }) } : {}) });
    await discovery.open();
  }
  if (components.has('devices')) {
    deviceStore = new DeviceStore(cfg.devices);
    deviceStore.open(join(o.dataDir, 'devices'));
    identity = new DeviceIdentity({ store: deviceStore, emitDhcp: built.has('dhcp'), emitInventory: built.has('inventory') });
    stages.push(identity.stage);
  }
  // Devices enrich before discovery so that both see the same event; discovery's observer runs
  // after every enricher anyway (EventPipeline), so its rollups carry the device and the user.
  if (discovery) stages.push(discovery.stage);
  const pipeline = new EventPipeline({ stages, outputs: o.outputs, write: o.write });
  if (identity) identity.sink = pipeline.emit;
  const sensor = new Sensor({
    flows: flowSettingsFromConfig(cfg.flows),
    emit: sensorEventKinds(built),
    pipeline,
    ...(o.nameCache ? { nameCache: o.nameCache } : {}),
    packetObservers: identity ? [identity.observer] : [],
    httpObservers: identity ? [identity.onHttpRequest] : [],
  });
  return {
    sensor, pipeline, deviceStore, identity, discovery,
    counters: () => ({
      ...sensor.counters(),
      ...pipeline.counters(),
      ...(identity ? identity.counters() : {}),
      ...(discovery ? discovery.counterSnapshot() : {}),
    }),
    close: async () => {
      await deviceStore?.close();
      await discovery?.close();
    },
  };
}
