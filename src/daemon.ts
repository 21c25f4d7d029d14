/**
 * `outpost run`: live capture → sensor → events, with the local admin API, metrics and jobs.
 *
 * The daemon is a list of areas (src/area.ts): each is made from its configuration slice and
 * contributes services, routes, metrics, health checks and job hooks; the event path between them
 * is the one `outpost replay` runs (src/pipeline.ts).
 *
 * Services start in order (forwarding, stores, flows, capture, privileges, API, agent listener,
 * jobs) with one AbortSignal and stop in reverse: on SIGTERM/SIGINT the jobs stop, then the
 * listeners close, then the capture, then every open flow is flushed as a final event into the
 * stores and the outbox, which close last, so nothing counted is lost on a clean shutdown. SIGHUP reads the
 * configuration file again: settings that can change live are applied, the others are reported as
 * restart-required (GET /v1/config, GET /v1/health); an invalid file changes nothing.
 *
 * Started as root with `runAsUser` set, the daemon drops to that user right after the capture
 * handles are open and before the API, the agent listener and the jobs start, so nothing that
 * takes requests or runs scheduled work ever runs as root (src/privileges.ts). Those listeners
 * then bind as that user: ports below 1024 are not available to them.
 *
 * Other areas plug in through DaemonOptions: API plugins (own prefix and role), metric sources,
 * job hooks and health checks (or later, through the returned handle).
 */
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { accessSync, appendFileSync, constants, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { OutpostConfig } from './config/index.js';
import { ConfigManager } from './config/manager.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { JobScheduler, type JobHook } from './jobs/scheduler.js';
import { ServiceGroup, type Service } from './lifecycle.js';
import type { LiveCapture } from './capture/live.js';
import type { Sensor } from './sensor.js';
import { NdjsonWriter } from './replay.js';
import { assemble, builtKinds, configuredComponents } from './pipeline.js';
import type { EventPipeline } from './events/pipeline.js';
import { buildApiActivity } from './events/api-activity.js';
import { OutpostError } from './errors.js';
import { createApi } from './api/server.js';
import { HealthRegistry, type ApiContext, type ApiPlugin } from './api/types.js';
import type { AreaParts, HealthCheck } from './area.js';
import { DnsNameCache } from './protocols/dns/name-cache.js';
import { devicesConfigCheck, type AgentListener } from './devices/agent-listener.js';
import type { Discovery } from './discovery/discovery.js';
import { captureArea } from './capture/area.js';
import { flowsArea } from './flows/area.js';
import { devicesArea } from './devices/area.js';
import { discoveryArea } from './discovery/area.js';
import { forwardArea } from './forward/area.js';
import { dropPrivileges, prepareStoreDir, restrictStoreFiles } from './privileges.js';

export interface DaemonOptions {
  /** The file the configuration came from; without it the API cannot change the configuration. */
  configPath?: string;
  /** Other areas' API plugins, each under its own prefix with its own required role. */
  apiPlugins?: readonly ApiPlugin[];
  /** Hooks for the scheduled jobs (`expiry`, `retention`, `compaction`, `catalog.reload`, `reports`). */
  jobHooks?: ReadonlyArray<{ job: string; name: string; run: JobHook }>;
  /** Dotted-counter snapshots exported as Prometheus metrics (outbox, identity store, sinks). */
  metricSources?: Readonly<Record<string, () => Record<string, number>>>;
  healthChecks?: Readonly<Record<string, HealthCheck>>;
}

export interface DaemonHandle {
  sensor: Sensor;
  capture: LiveCapture | null;
  api: FastifyInstance;
  group: ServiceGroup;
  config: ConfigManager;
  metrics: Metrics;
  jobs: JobScheduler;
  health: HealthRegistry;
  /** The HTTPS listener for agent heartbeats (devices.agentListener), when enabled. */
  agentListener: AgentListener | null;
  /** Counters of the sensor and the capture, with per-interface kernel statistics. */
  stats(): object;
}

export async function startDaemon(cfg: OutpostConfig, logger: Logger, writer: NdjsonWriter, options: DaemonOptions = {}): Promise<DaemonHandle> {
  // Data (LMDB stores, audit log) is for the outpost user only.
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o750 });
  const config = new ConfigManager(cfg, options.configPath);
  // A change the next start would refuse is refused now (the API adds its own checks in createApi).
  config.addCheck((next) => devicesConfigCheck(next.devices));
  const scopeProblems = devicesConfigCheck(cfg.devices).problems.filter((p) => p.rule === 'prefix');
  if (scopeProblems.length > 0) {
    throw new OutpostError('CONFIG_INVALID', { source: options.configPath ?? '<defaults>', problems: scopeProblems.map((p) => `  ${p.path}: ${p.message}`).join('\n') }, { details: { problems: scopeProblems } });
  }
  const emit = new Set(cfg.events.emit);
  const built = builtKinds(emit, configuredComponents(cfg));
  const startedAt = Date.now();
  let groupRef: ServiceGroup | undefined;
  // Late-bound: areas made before the pipeline hand their events and questions to it.
  let pipelineRef: EventPipeline | undefined;
  let discoveryRef: Discovery | null = null;

  // The areas, each made from its own configuration slice (src/area.ts). Devices first: the agent
  // listener's settings are checked (and its TLS files read) before any store is opened.
  const devices = await devicesArea.create(cfg.devices, {
    dataDir: cfg.dataDir, logger, emitDhcp: built.has('dhcp'), emitInventory: built.has('inventory'),
    maskUser: (v) => (discoveryRef ? discoveryRef.maskUserIdentifier(v) : v),
  });
  const forward = await forwardArea.create(cfg.forward, { logger: logger.child({ component: 'forward' }), dataDir: cfg.dataDir });
  const discovery = await discoveryArea.create(cfg.discovery, {
    dataDir: cfg.dataDir, logger: logger.child({ component: 'discovery' }), emit: (ev) => pipelineRef?.emit(ev),
  });
  discoveryRef = discovery.discovery;
  const nameCache = new DnsNameCache();
  // DNS answers name the hosts users visited: owner-only whatever the umask (as every store).
  prepareStoreDir(join(cfg.dataDir, 'dns-names'));
  await nameCache.open(join(cfg.dataDir, 'dns-names'));
  restrictStoreFiles(join(cfg.dataDir, 'dns-names'));

  // The event path, assembled as `outpost replay` assembles it (src/pipeline.ts): every event is
  // enriched (device, user, app), rolled up, pseudonymised when configured, then written to the
  // durable outbox and, optionally, stdout. Stdout prints an event only once its outbox commit
  // completed (the stored text, in sequence order): nothing printed is lost by a crash.
  if (cfg.events.stdout) {
    forward.forwarding.outbox.onCommit((records) => {
      for (const r of records) writer.writeLine(r.json);
      writer.flush();
    });
  }
  const { sensor, pipeline, counters } = assemble({
    cfg,
    write: emit,
    outputs: [forward.forwarding.sink],
    identity: devices.identity,
    discovery: discovery.discovery,
    nameCache,
  });
  pipelineRef = pipeline;
  const flows = await flowsArea.create(cfg.flows, { flows: sensor.flows, afterExpire: () => writer.flush() });
  const capture = await captureArea.create(cfg.capture, {
    onPacket: sensor.onPacket, logger, configured: () => config.current.capture, lifecycleState: () => groupRef?.state,
  });
  const liveCapture = capture.capture;

  const stats = () => ({
    uptimeMs: Date.now() - startedAt,
    interfaces: liveCapture ? liveCapture.stats() : [],
    counters: { ...(liveCapture ? liveCapture.counters.snapshot() : {}), ...sensor.counters() },
    // After a stop the outbox is closed; its last state is not readable any more.
    ...(forward.forwarding.outbox.closed ? {} : { forward: forward.forwarding.status() }),
  });

  // What the areas contribute, in the order their services start.
  const areas: AreaParts[] = [forward, devices, discovery, flows, capture];

  const metrics = new Metrics();
  metrics.addSource('sensor', counters);
  if (liveCapture) metrics.addInterfaceStats(() => liveCapture.stats());
  for (const a of areas) for (const [name, snap] of Object.entries(a.metrics ?? {})) metrics.addSource(name, snap);
  for (const [name, snap] of Object.entries(options.metricSources ?? {})) metrics.addSource(name, snap);

  const jobLog = logger.child({ component: 'jobs' });
  const jobs = new JobScheduler({
    onRun: (job, run) => {
      metrics.jobRuns.inc({ job, outcome: run.outcome });
      if (run.outcome === 'error') jobLog.error({ job, run }, 'job failed');
      else if (job !== 'flows.expire') jobLog.info({ job, durationMs: run.durationMs }, 'job finished');
    },
  });
  jobs.addHook('compaction', 'dns-names', () => nameCache.compact(Date.now()));
  for (const a of areas) for (const h of a.jobs ?? []) jobs.addHook(h.job, h.name, h.run);
  for (const h of options.jobHooks ?? []) jobs.addHook(h.job, h.name, h.run);

  let apiListening = false;
  const health = new HealthRegistry();
  health.register('api', () => ({ state: apiListening ? 'running' : 'starting', ready: apiListening }));
  for (const a of areas) for (const [name, check] of Object.entries(a.health ?? {})) health.register(name, check);
  health.register('jobs', () => {
    const failing = jobs.list().filter((j) => j.lastRun?.outcome === 'error').map((j) => j.name);
    return { state: failing.length ? 'degraded' : 'running', ready: true, ...(failing.length ? { detail: `last run failed: ${failing.join(', ')}` } : {}) };
  });
  health.register('config', () => {
    const pending = config.restartRequired();
    return { state: pending.length ? 'restart-required' : 'current', ready: true, ...(pending.length ? { detail: pending.join(', ') } : {}) };
  });
  for (const [name, check] of Object.entries(options.healthChecks ?? {})) health.register(name, check);

  let statsTimer: NodeJS.Timeout | undefined;
  const armStatsTimer = (ms: number) => {
    clearInterval(statsTimer);
    statsTimer = setInterval(() => logger.info(stats(), 'stats'), ms);
  };
  config.onChange((next, prev) => {
    if (next.logLevel !== prev.logLevel) logger.level = next.logLevel;
    if (next.capture.statsIntervalMs !== prev.capture.statsIntervalMs && statsTimer !== undefined) armStatsTimer(next.capture.statsIntervalMs);
  });
  const auditPath = join(cfg.dataDir, 'audit.ndjson');
  config.onAudit((record) => {
    logger.info({ audit: record }, 'configuration changed');
    try {
      appendFileSync(auditPath, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    } catch (err) {
      logger.error({ err, path: auditPath }, 'cannot append to the audit log');
    }
    writer.write(buildApiActivity(record));
    writer.flush();
  });

  const ctx: ApiContext = { logger, config, metrics, jobs, health, startedAt, stats };
  const api = await createApi(ctx, { plugins: [...areas.flatMap((a) => a.routes ?? []), ...(options.apiPlugins ?? [])] });
  const agentListener = devices.agentListener;

  const services: Service[] = [
    // Started first, stopped last: the final flow flush still reaches the outbox and the stores.
    ...forward.services ?? [],
    ...devices.services ?? [],
    ...discovery.services ?? [],
    { name: 'dns-names', start: async () => {}, stop: () => nameCache.close() },
    {
      name: 'flows',
      start: async () => { armStatsTimer(cfg.capture.statsIntervalMs); },
      stop: async () => {
        clearInterval(statsTimer);
        sensor.lastPacketUs = Math.max(sensor.lastPacketUs, Date.now() * 1000);
        sensor.flush('shutdown');
        writer.flush();
      },
    },
    ...capture.services ?? [],
    {
      // The capture handles are open: give up root now, if asked to (runAsUser), before anything
      // that takes requests (admin API, agent listener) or runs scheduled work (jobs) starts.
      name: 'privileges',
      start: async () => {
        if (cfg.runAsUser === '') return;
        if (process.getuid?.() !== 0) {
          logger.warn({ runAsUser: cfg.runAsUser, uid: process.getuid?.() }, 'runAsUser is set but the daemon was not started as root: running as is');
          return;
        }
        const outboxDir = isAbsolute(cfg.forward.outboxDir) ? cfg.forward.outboxDir : join(cfg.dataDir, cfg.forward.outboxDir);
        const dropped = dropPrivileges(cfg.runAsUser, [cfg.dataDir, outboxDir], options.configPath);
        logger.info({ ...dropped, dataDir: cfg.dataDir }, 'privileges dropped: capture opened as root, now running unprivileged');
        warnIfConfigNotWritable(options.configPath, logger);
      },
      // A process cannot take its privileges back; nothing to undo.
      stop: async () => {},
    },
    {
      name: 'api',
      start: async () => {
        try {
          const address = await api.listen({ host: cfg.api.host, port: cfg.api.port });
          apiListening = true;
          logger.info({ address }, 'admin API listening');
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          throw new OutpostError('API_LISTEN_FAILED', { host: cfg.api.host, port: cfg.api.port, reason }, { details: { host: cfg.api.host, port: cfg.api.port, reason }, cause: err });
        }
      },
      stop: async () => { apiListening = false; await api.close(); },
    },
    ...(agentListener ? [agentListener.service] : []),
    {
      name: 'jobs',
      start: async () => { jobs.start(); },
      stop: async () => { await jobs.stop(); },
    },
  ];
  const group = new ServiceGroup(services, { logger });
  groupRef = group;
  await group.start();
  return { sensor, capture: liveCapture, api, group, config, metrics, jobs, health, agentListener, stats };
}

/**
 * Configuration changes through the API are written atomically (temporary file + rename in the
 * file's directory), so the unprivileged user needs write access to that directory, not only to
 * the file. Say so at start rather than on the first PUT.
 */
function warnIfConfigNotWritable(configPath: string | undefined, logger: Logger): void {
  if (configPath === undefined) return;
  const dir = dirname(configPath);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    logger.warn({ configPath, directory: dir }, 'the configuration directory is not writable after the privilege drop: configuration changes through the API will fail with CONFIG_WRITE_FAILED (make the directory writable by runAsUser, as the package does for /etc/outpost)');
  }
}

export async function runDaemon(cfg: OutpostConfig, configPath?: string, options: Omit<DaemonOptions, 'configPath'> = {}): Promise<number> {
  const logger = createLogger(cfg.logLevel, pino.destination(2));
  const writer = new NdjsonWriter(1);
  const daemon = await startDaemon(cfg, logger, writer, { ...options, ...(configPath !== undefined ? { configPath } : {}) });
  logger.info({ configPath: configPath ?? '(embedded defaults)', api: `${cfg.api.host}:${cfg.api.port}` }, 'outpost running');
  const onHup = () => {
    try {
      const record = daemon.config.reload({ kind: 'signal', name: 'SIGHUP' });
      logger.info({ changes: record.changes.length, applied: record.applied, restartRequired: daemon.config.restartRequired() }, 'configuration reloaded (SIGHUP)');
    } catch (err) {
      logger.error({ err }, 'configuration reload (SIGHUP) rejected; running configuration unchanged');
    }
  };
  process.on('SIGHUP', onHup);
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      process.off('SIGHUP', onHup);
      daemon.group.stop().then(
        () => { logger.info(daemon.stats(), 'final stats'); resolve(0); },
        (err: unknown) => { logger.error({ err }, 'stop failed'); resolve(1); },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
