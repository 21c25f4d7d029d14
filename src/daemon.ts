/**
 * `outpost run`: live capture → sensor → events, with a local admin API for health and counters.
 *
 * Services start in order (API, capture, timers) with one AbortSignal and stop in reverse; on
 * SIGTERM/SIGINT the capture stops first, then every open flow is flushed as a final event, so
 * nothing counted is lost on a clean shutdown.
 */
import pino from 'pino';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync } from 'node:fs';
import type { OutpostConfig } from './config/index.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { ServiceGroup, type Service } from './lifecycle.js';
import { LiveCapture } from './capture/live.js';
import { Sensor } from './sensor.js';
import { NdjsonWriter } from './replay.js';
import { flowSettingsFromConfig } from './flows/settings.js';

export interface DaemonHandle {
  sensor: Sensor;
  capture: LiveCapture | null;
  api: FastifyInstance;
  group: ServiceGroup;
  /** Counters of the sensor and the capture, with per-interface kernel statistics. */
  stats(): object;
}

export async function startDaemon(cfg: OutpostConfig, logger: Logger, writer: NdjsonWriter): Promise<DaemonHandle> {
  mkdirSync(cfg.dataDir, { recursive: true });
  const sensor = new Sensor({ flows: flowSettingsFromConfig(cfg), emit: new Set(['network']), sink: writer.write });
  const capture = cfg.capture.interfaces.length > 0
    ? new LiveCapture({
      interfaces: cfg.capture.interfaces,
      bpfFilter: cfg.capture.bpfFilter,
      snaplenBytes: cfg.capture.snaplenBytes,
      promiscuous: cfg.capture.promiscuous,
      bufferSizeBytes: cfg.capture.bufferSizeBytes,
      bufferTimeoutMs: cfg.capture.bufferTimeoutMs,
    }, sensor.onPacket, undefined, (err) => logger.error({ err }, 'packet handler failed'))
    : null;
  const startedAt = Date.now();
  const stats = () => ({
    uptimeMs: Date.now() - startedAt,
    interfaces: capture ? capture.stats() : [],
    counters: { ...(capture ? capture.counters.snapshot() : {}), ...sensor.counters() },
  });

  const api = Fastify({ logger: false });
  api.get('/v1/health', async () => ({ status: 'ok', capture: capture ? 'running' : 'idle', uptimeMs: Date.now() - startedAt }));
  api.get('/v1/stats', async () => stats());

  let expiryTimer: NodeJS.Timeout | undefined;
  let statsTimer: NodeJS.Timeout | undefined;
  const services: Service[] = [
    {
      name: 'api',
      start: async () => {
        const address = await api.listen({ host: cfg.api.host, port: cfg.api.port });
        logger.info({ address }, 'admin API listening');
      },
      stop: async () => { await api.close(); },
    },
    {
      name: 'capture',
      start: async (signal) => {
        if (!capture) { logger.warn('no capture interfaces configured (capture.interfaces): running without capture'); return; }
        capture.start(signal);
        logger.info({ interfaces: cfg.capture.interfaces }, 'capture started');
      },
      stop: async () => { capture?.stop(); },
    },
    {
      name: 'flows',
      start: async () => {
        // Live traffic can stop; idle flows must still end on the wall clock.
        expiryTimer = setInterval(() => { sensor.flows.expire(Date.now() * 1000); writer.flush(); }, 1000);
        statsTimer = setInterval(() => logger.info(stats(), 'stats'), cfg.capture.statsIntervalMs);
      },
      stop: async () => {
        clearInterval(expiryTimer);
        clearInterval(statsTimer);
        sensor.lastPacketUs = Math.max(sensor.lastPacketUs, Date.now() * 1000);
        sensor.flush();
        writer.flush();
      },
    },
  ];
  const group = new ServiceGroup(services, { logger });
  await group.start();
  return { sensor, capture, api, group, stats };
}

export async function runDaemon(cfg: OutpostConfig, configPath?: string): Promise<number> {
  const logger = createLogger(cfg.logLevel, pino.destination(2));
  const writer = new NdjsonWriter(1);
  const daemon = await startDaemon(cfg, logger, writer);
  logger.info({ configPath: configPath ?? '(embedded defaults)', api: `${cfg.api.host}:${cfg.api.port}` }, 'outpost running');
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      daemon.group.stop().then(
        () => { logger.info(daemon.stats(), 'final stats'); resolve(0); },
        (err: unknown) => { logger.error({ err }, 'stop failed'); resolve(1); },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
