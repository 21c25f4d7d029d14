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
import { accessSync, appendFileSync, constants, mkdirSync, rmSync } from 'node:fs';
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
import { consoleApiPlugin } from './console/routes.js';
import { FIRST_RUN_TOKEN_FILE, ensureFirstRunToken, loginUrl } from './api/first-run.js';
import { HealthRegistry, type ApiContext, type ApiPlugin } from './api/types.js';
import type { AreaParts, HealthCheck } from './area.js';
import { DnsNameCache } from './protocols/dns/name-cache.js';
import { devicesConfigCheck, type AgentListener } from './devices/agent-listener.js';
import type { Discovery } from './discovery/discovery.js';
import { captureArea } from './capture/area.js';
import { bridgeCaptureHazards } from './control/inline/bridge-capture.js';
import { flowsArea } from './flows/area.js';
import { devicesArea } from './devices/area.js';
import { discoveryArea } from './discovery/area.js';
import { forwardArea } from './forward/area.js';
import { createPolicy, type PolicyParts } from './control/policy-area.js';
import { verdictFlowOf } from './control/verdict-event.js';
import { controlArea } from './control/area.js';
import type { VerdictPolicy } from './control/policy-types.js';
import type { InlineDecision } from './control/inline/engine.js';
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
  /**
   * First-run access (src/api/first-run.ts): the daemon keeps its own admin token in dataDir,
   * created on the first start, and the handle carries the login URL on that start only. Unset:
   * api.firstRunAccess decides; `outpost run` turns it on when it runs without a configuration file.
   */
  firstRunAccess?: boolean;
  /**
   * Zero-configuration capture: capture.interfaces empty means `[auto]`, the interfaces of the
   * default route (or every up one), src/capture/auto-interfaces.ts. `outpost run` turns it on
   * when it runs without a configuration file; a file asks for it with `interfaces: [auto]`.
   */
  autoInterfaces?: boolean;
  /**
   * A verdict policy in place of the daemon's own control policy (src/control/policy.ts), for
   * inline mode and SPAN resets; read on every decision, so it may change while the daemon runs.
   * Default: the control policy, set through the API. Decisions are recorded as events either way.
   */
  verdictPolicy?: () => VerdictPolicy;
  /**
   * Each inline or SPAN decision (once per judged flow or DNS query), after the control policy's
   * recorder made its event: an observer beside the events, not instead of them.
   */
  onInlineDecision?: (d: InlineDecision) => void;
  /** The nft program inline mode runs (default: `nft` on PATH). */
  nftCommand?: string;
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
  /** The control policy: its store, the VerdictPolicy the inline path asks, the verdict recorder. */
  control: PolicyParts;
  /** Counters of the sensor and the capture, with per-interface kernel statistics. */
  stats(): object;
  /**
   * Resolves once every event emitted so far is committed to the outbox and, with events.stdout,
   * written: stdout prints an event only after its commit, so a caller that reads the output right
   * after an action (an API call that emits an audit event) waits for this first.
   */
  flushEvents(): Promise<void>;
  /** The login URL holding the first-run admin token: set only on the start that created it. */
  loginUrl?: string;
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

  // The control policy (made below, once device identity and discovery exist) decides inline and
  // SPAN verdicts unless the caller gives its own; its recorder turns them into events.
  let policyRef: PolicyParts | undefined;
  // Called by the inline engine after its batch's verdicts were given, and by the SPAN resetter
  // after its resets went out (recording never delays enforcement); the enforcement is what that
  // path did, not a guess from the transport.
  const recordInline = (d: InlineDecision): void => {
    policyRef?.verdicts.record(d.decision, verdictFlowOf(d));
    options.onInlineDecision?.(d);
  };
  // Inline mode's preconditions (no privilege drop) are checked before any store opens.
  const control = await controlArea.create(cfg.control, {
    logger: logger.child({ component: 'inline' }), runAsUser: cfg.runAsUser,
    policy: options.verdictPolicy ?? (() => policyRef!.policy),
    onDecision: recordInline,
    ...(options.nftCommand !== undefined ? { nft: options.nftCommand } : {}),
    // SPAN resets go out of the interface the packet came in on; the capture is made below.
    inject: (frame) => liveCaptureRef?.injectOnCurrent(frame) ?? false,
  });
  let liveCaptureRef: LiveCapture | null = null;
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
    ...(control.span !== null ? { packetObservers: [control.span] } : {}),
  });
  pipelineRef = pipeline;
  // The control policy reads device identity and discovery (layer above both); its verdict and
  // audit events go through the same pipeline.
  const policy = await createPolicy({
    dataDir: cfg.dataDir, logger: logger.child({ component: 'control' }), discovery: discovery.discovery, identity: devices.identity,
    nameCache, emit: (ev) => pipelineRef?.emit(ev),
  });
  policyRef = policy;
  const flows = await flowsArea.create(cfg.flows, { flows: sensor.flows, afterExpire: () => writer.flush() });
  const capture = await captureArea.create(cfg.capture, {
    onPacket: sensor.onPacket, logger, configured: () => config.current.capture, lifecycleState: () => groupRef?.state,
    ...(options.autoInterfaces ? { emptyMeansAuto: true } : {}),
  });
  const liveCapture = capture.capture;
  liveCaptureRef = liveCapture;
  // Inline mode behind a promiscuous capture on a bridge with br_netfilter on drops new flows
  // (src/control/inline/bridge-capture.ts): said once at start, with the way out.
  if (cfg.control.inline.enabled && liveCapture) {
    const risky = bridgeCaptureHazards(liveCapture.interfaces, cfg.capture.promiscuous);
    if (risky.length > 0) {
      const e = new OutpostError('CONTROL_INLINE_BRIDGE_CAPTURE', { interfaces: risky.join(', ') });
      logger.warn({ code: e.code, interfaces: risky }, e.message);
    }
  }

  const flushEvents = async (): Promise<void> => {
    await forward.forwarding.outbox.flush();
    writer.flush();
  };
  const stats = () => ({
    uptimeMs: Date.now() - startedAt,
    interfaces: liveCapture ? liveCapture.stats() : [],
    counters: { ...(liveCapture ? liveCapture.counters.snapshot() : {}), ...sensor.counters() },
    // After a stop the outbox is closed; its last state is not readable any more.
    ...(forward.forwarding.outbox.closed ? {} : { forward: forward.forwarding.status() }),
  });

  // What the areas contribute, in the order their services start.
  const areas: AreaParts[] = [forward, devices, discovery, policy, flows, capture, control];

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
  const firstRun = (options.firstRunAccess ?? cfg.api.firstRunAccess) ? ensureFirstRunToken(cfg.dataDir) : undefined;
  // A start that fails after creating the token has printed no URL: forget the token, so that the
  // next start creates one and prints it.
  const forgetNewToken = () => { if (firstRun?.token !== undefined) rmSync(join(cfg.dataDir, FIRST_RUN_TOKEN_FILE), { force: true }); };
  let api: FastifyInstance;
  try {
    api = await createApi(ctx, {
    // The console (/, /console/*) reads the routes above with the caller's session or token.
    plugins: [...areas.flatMap((a) => a.routes ?? []), consoleApiPlugin({ dataDir: cfg.dataDir }), ...(options.apiPlugins ?? [])],
    ...(firstRun ? { extraTokens: [firstRun.entry] } : {}),
    });
  } catch (err) {
    forgetNewToken();
    throw err;
  }
  const agentListener = devices.agentListener;

  const services: Service[] = [
    // Started first, stopped last: the final flow flush still reaches the outbox and the stores.
    ...forward.services ?? [],
    ...devices.services ?? [],
    ...discovery.services ?? [],
    ...policy.services ?? [],
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
    // Inline mode: queue opened, then Outpost's rules installed (its nftables table, or its
    // iptables chains where the kernel has no nf_tables queue expression); removed first at stop.
    ...control.services ?? [],
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
  try {
    await group.start();
  } catch (err) {
    forgetNewToken();
    throw err;
  }
  let url: string | undefined;
  if (firstRun?.token !== undefined) {
    const address = api.server.address();
    const port = address !== null && typeof address === 'object' ? address.port : cfg.api.port;
    url = loginUrl(cfg.api.host, port, Boolean(cfg.api.tls.certFile), firstRun.token);
  }
  return { sensor, capture: liveCapture, api, group, config, metrics, jobs, health, agentListener, control: policy, stats, flushEvents, ...(url !== undefined ? { loginUrl: url } : {}) };
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
  const daemon = await startDaemon(cfg, logger, writer, { ...(configPath === undefined ? { firstRunAccess: true, autoInterfaces: true } : {}), ...options, ...(configPath !== undefined ? { configPath } : {}) });
  logger.info({ configPath: configPath ?? '(embedded defaults)', api: `${cfg.api.host}:${cfg.api.port}` }, 'outpost running');
  if (daemon.loginUrl !== undefined) {
    // Printed once, on the start that created the token, as a plain line a terminal can link
    // (not a log record: logs are kept and shipped, and this line holds an admin secret).
    process.stderr.write(`\n  Outpost is running. Open the console (this link is shown only once; it logs you in as admin):\n\n      ${daemon.loginUrl}\n\n`);
  }
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
