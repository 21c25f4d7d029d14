/**
 * The devices area (src/area.ts): the `devices` section, and from it the device store (LMDB),
 * device identity (the pipeline's device/user enrich stage and the consumer of DHCP, ARP/NDP,
 * mDNS/LLMNR and NetBIOS messages), the agent registry, the agent listener, their routes
 * (/v1/devices, /v1/users, /v1/agents), counters, health and the retention job.
 */
import { join } from 'node:path';
import type { ActiveArea, AreaParts } from '../area.js';
import type { Logger } from '../telemetry/logger.js';
import { devicesConfigSection, type DevicesConfig } from './config.js';
import { DeviceStore } from './store.js';
import { DeviceIdentity } from './identity.js';
import { readRadiusSecrets } from './radius-secrets.js';
import { AgentRegistry } from './agent-routes.js';
import type { AgentListener } from './agent-listener.js';
import type { UserIdentifierMask } from './routes.js';

export interface DevicesDeps {
  dataDir: string;
  /** None in a replay: nothing to report outside the events and counters. */
  logger?: Logger;
  /** DHCP Activity / Device Inventory Info events built (the event path writes those asked for). */
  emitDhcp: boolean;
  emitInventory: boolean;
  /** How user identifiers are shown by the API (discovery's pseudonyms when that is on). */
  maskUser?: UserIdentifierMask;
  /** False when nothing serves an API (a replay): no routes, and their modules are not loaded. */
  routes?: boolean;
}

export interface DevicesParts extends AreaParts {
  /** Null when devices.enabled is false. */
  store: DeviceStore | null;
  identity: DeviceIdentity | null;
  agents: AgentRegistry;
  /**
   * The HTTPS listener for agent heartbeats (devices.agentListener), when enabled. Its service is
   * not among `services`: it takes requests, so the daemon starts it after the privilege drop.
   */
  agentListener: AgentListener | null;
}

export const devicesArea: ActiveArea<DevicesConfig, DevicesDeps, DevicesParts> = {
  name: 'devices',
  config: devicesConfigSection,
  async create(cfg, deps) {
    const agents = new AgentRegistry(cfg.maxAgents, cfg.agentMaxNonces, cfg.agentMaxClockSkewMs);
    // Agent listener settings are checked (and its TLS files read) before anything is opened.
    const listenerOn = cfg.enabled && cfg.agentListener.enabled;
    // The listener's HTTPS server (fastify) is loaded only when it runs: a replay never needs it.
    const listener = listenerOn ? await import('./agent-listener.js') : null;
    const tls = listener ? listener.prepareAgentListenerTls(cfg.agentListener) : null;
    if (cfg.agentListener.enabled && !cfg.enabled) deps.logger?.warn('devices.agentListener.enabled is set but devices.enabled is false: no agent listener');
    // RADIUS shared secrets are read before anything is opened (and before privileges drop).
    const radiusSecrets = cfg.enabled ? readRadiusSecrets(cfg.radiusNases) : new Map<string, Buffer>();
    const store = cfg.enabled ? new DeviceStore(cfg) : null;
    store?.open(join(deps.dataDir, 'devices'));
    const identity = store ? new DeviceIdentity({ store, emitDhcp: deps.emitDhcp, emitInventory: deps.emitInventory, radiusSecrets }) : null;
    const agentListener = listener && identity
      ? await listener.createAgentListener({ settings: cfg.agentListener, tls, identity, registry: agents, ...(deps.logger ? { logger: deps.logger.child({ component: 'agent-listener' }) } : {}) })
      : null;
    // The device and user routes (about 25 kB of JavaScript) are loaded only for a caller that serves
    // them; the agent registry (agent-routes.ts) is made either way.
    const routes = deps.routes === false ? [] : (await import('./routes.js')).deviceApiPlugins(identity, agents, deps.maskUser);
    const disabled = cfg.enabled ? 'devices.agentListener.enabled is false' : 'devices.enabled is false';
    return {
      store, identity, agents, agentListener,
      // Opened above (the pipeline enriches from it before capture starts); closed at stop.
      ...(store ? { services: [{ name: 'devices', start: async () => {}, stop: () => store.close() }] } : {}),
      routes,
      ...(identity ? { metrics: { devices: () => ({ ...identity.counters(), ...agents.counters.snapshot() }) } } : {}),
      health: { 'agent-listener': () => agentListener?.health() ?? { state: 'disabled', ready: true, detail: disabled } },
      // Device history past devices.deviceHistoryRetentionMs goes with the daily retention run,
      // like every other store's expired records (the weekly compaction only reclaims space).
      ...(store ? { jobs: [{ job: 'retention', name: 'devices', run: () => { store.compact(Date.now()); } }] } : {}),
    };
  },
};
