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
 * The components are made by their areas (src/devices/area.ts, src/discovery/area.ts): the daemon
 * keeps their routes, services and jobs; a replay only their pipeline stages, with the stores in
 * a temporary folder.
 */
import type { OutpostConfig } from './config/index.js';
import { Sensor, sensorEventKinds } from './sensor.js';
import { flowSettingsFromConfig } from './flows/settings.js';
import { EventPipeline, type EventKind, type EventOutput, type EventStage } from './events/pipeline.js';
import type { DnsNameCache } from './protocols/dns/name-cache.js';
import type { PacketObserver } from './protocols/observers.js';
import type { DeviceIdentity } from './devices/identity.js';
import type { Discovery } from './discovery/discovery.js';


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
  /** Event kinds written to the outputs (`events.emit`, `--emit`). */
  write: ReadonlySet<EventKind>;
  outputs: EventOutput[];
  /** The components, as their areas made them (null: off). */
  identity: DeviceIdentity | null;
  discovery: Discovery | null;
  /** A DNS name cache (the daemon's is persisted); by default an in-memory one. */
  nameCache?: DnsNameCache;
  /** More observers of each decoded packet, after the components' (SPAN-mode resets). */
  packetObservers?: PacketObserver[];
}

export interface Assembled {
  sensor: Sensor;
  pipeline: EventPipeline;
  /** Counters of the sensor, the pipeline and every component, for `--stats` and metrics. */
  counters(): Record<string, number>;
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

/** The sensor and the event pipeline around the given components, in the one stage order. */
export function assemble(o: AssembleOptions): Assembled {
  const { identity, discovery } = o;
  const components = new Set<Component>([...(identity ? ['devices' as const] : []), ...(discovery ? ['discovery' as const] : [])]);
  const built = builtKinds(o.write, components);
  // Devices enrich before discovery so that both see the same event; discovery's observer runs
  // after every enricher anyway (EventPipeline), so its rollups carry the device and the user.
  const stages: EventStage[] = [...(identity ? [identity.stage] : []), ...(discovery ? [discovery.stage] : [])];
  const pipeline = new EventPipeline({ stages, outputs: o.outputs, write: o.write });
  if (identity) identity.sink = pipeline.emit;
  const sensor = new Sensor({
    flows: flowSettingsFromConfig(o.cfg.flows),
    emit: sensorEventKinds(built),
    pipeline,
    ...(o.nameCache ? { nameCache: o.nameCache } : {}),
    packetObservers: [...(identity ? [identity.observer] : []), ...(o.packetObservers ?? [])],
    httpObservers: identity ? [identity.onHttpRequest] : [],
    logonObservers: identity ? [identity.onLogon] : [],
  });
  return {
    sensor, pipeline,
    counters: () => ({
      ...sensor.counters(),
      ...pipeline.counters(),
      ...(identity ? identity.counters() : {}),
      ...(discovery ? discovery.counterSnapshot() : {}),
    }),
  };
}

export interface ReplayComponents {
  identity: DeviceIdentity | null;
  discovery: Discovery | null;
  close(): Promise<void>;
}

/**
 * The components of a replay, made by their areas as the daemon makes them, with their stores in
 * `dataDir` (a temporary folder): only what the pipeline uses is kept, the rest (routes, the agent
 * listener) is neither loaded nor started.
 */
export async function openReplayComponents(cfg: OutpostConfig, dataDir: string, components: ReadonlySet<Component>, write: ReadonlySet<EventKind>): Promise<ReplayComponents> {
  const built = builtKinds(write, components);
  // Loaded only when asked for: a replay of the sensor alone starts without LMDB or fastify.
  const { discoveryArea } = await import('./discovery/area.js');
  const { devicesArea } = await import('./devices/area.js');
  const discovery = components.has('discovery')
    ? (await discoveryArea.create({ ...cfg.discovery, enabled: true }, { dataDir, routes: false })).discovery
    : null;
  const devices = components.has('devices')
    ? await devicesArea.create({ ...cfg.devices, enabled: true, agentListener: { ...cfg.devices.agentListener, enabled: false } },
      { dataDir, emitDhcp: built.has('dhcp'), emitInventory: built.has('inventory'), routes: false })
    : null;
  return {
    identity: devices?.identity ?? null,
    discovery,
    close: async () => {
      await devices?.store?.close();
      await discovery?.close();
    },
  };
}
