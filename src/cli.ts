#!/usr/bin/env node
/**
 * The `outpost` command: `outpost run` (the daemon) and `outpost replay` (capture files).
 */
import { parseArgs } from 'node:util';
import { replay, type ReplayOptions } from './replay.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutpostConfig } from './config/index.js';
import { sensorEventKinds, type EventSink } from './sensor.js';
import { loadConfig } from './config/index.js';
import { EVENT_KIND_NAMES, type EventKindName } from './events/config.js';
import { flowSettingsFromConfig } from './flows/settings.js';

const USAGE = `usage:
  outpost run [--config FILE]
      the gateway daemon: live capture on the configured interfaces
  outpost replay FILE... [--emit network,dns,http,dhcp,inventory|none] [--with devices,discovery] [--stats] [--config FILE]
      reads pcap/pcapng files, packet timestamps as the clock; one OCSF JSON event per line
      on stdout (default: network); dhcp and inventory imply --with devices; --stats prints a
      JSON summary of every counter to stderr
  outpost token create --role admin|read [--name NAME] [--json]
      prints a new admin API token and the api.tokens entry (its SHA-256) for the config
`;

class UsageError extends Error {
  readonly code = 'CLI_USAGE';
}

/**
 * `--with devices,discovery`: run the daemon's device identity and cloud-app discovery on the
 * replayed traffic too (their stores in a temporary folder), so a replay measures or shows the
 * whole pipeline. DHCP Activity and Device Inventory Info events come from device identity, so
 * asking for them brings it in.
 */
async function replayComponents(value: string | undefined, emit: ReadonlySet<EventKindName>, cfg: OutpostConfig) {
  const wanted = new Set((value ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const w of wanted) if (w !== 'devices' && w !== 'discovery') throw new UsageError(`--with: unknown component "${w}" (known: devices, discovery)`);
  if (emit.has('dhcp') || emit.has('inventory')) wanted.add('devices');
  const options: Pick<ReplayOptions, 'enrichers' | 'packetObservers' | 'httpObservers' | 'observe' | 'attachSink'> = {};
  const closers: Array<() => Promise<void>> = [];
  const counters: Array<() => Record<string, number>> = [];
  if (wanted.size === 0) return { active: false, options, counters: () => ({}), close: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'outpost-replay-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const enrichers: NonNullable<ReplayOptions['enrichers']> = [];
  if (wanted.has('devices')) {
    const { DeviceStore } = await import('./devices/store.js');
    const { DeviceIdentity } = await import('./devices/identity.js');
    const store = new DeviceStore(cfg.devices);
    store.open(join(dir, 'devices'));
    const identity = new DeviceIdentity({ store, emitDhcp: emit.has('dhcp'), emitInventory: emit.has('inventory') });
    options.packetObservers = [identity.observer];
    options.httpObservers = [identity.onHttpRequest];
    options.attachSink = (sink: EventSink) => { identity.sink = sink; };
    enrichers.push(identity.enrich);
    counters.push(() => identity.counters());
    closers.unshift(() => store.close());
  }
  if (wanted.has('discovery')) {
    const { Discovery } = await import('./discovery/discovery.js');
    const discovery = new Discovery({ dataDir: dir, config: cfg.discovery });
    await discovery.open();
    enrichers.push(discovery.enricher);
    options.observe = discovery.observe;
    closers.unshift(() => discovery.close());
  }
  options.enrichers = enrichers;
  return {
    active: true,
    options,
    counters: () => Object.assign({}, ...counters.map((c) => c())) as Record<string, number>,
    close: async () => { for (const c of closers) await c(); },
  };
}

export function parseEmit(value: string | undefined): Set<EventKindName> {
  if (value === undefined) return new Set<EventKindName>(['network']);
  if (value === 'none') return new Set();
  const kinds = new Set<EventKindName>();
  for (const k of value.split(',')) {
    const kind = k.trim();
    if (!(EVENT_KIND_NAMES as readonly string[]).includes(kind)) {
      throw new UsageError(`--emit: unknown event kind "${kind}" (known: ${EVENT_KIND_NAMES.join(', ')}, or none)`);
    }
    kinds.add(kind as EventKindName);
  }
  return kinds;
}


async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'replay') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { emit: { type: 'string' }, stats: { type: 'boolean' }, config: { type: 'string' }, with: { type: 'string' } },
    });
    if (positionals.length === 0) throw new UsageError('replay: at least one capture file is required');
    const cfg = loadConfig(values.config);
    const emit = parseEmit(values.emit);
    const extras = await replayComponents(values.with, emit, cfg);
    const kinds = sensorEventKinds(emit);
    // Components that work on flow events (rollups, device enrichment) need Network Activity
    // built even when it is not written: with nothing written at all, every event is dropped at
    // the sink; otherwise only the unwanted Network Activity is.
    const buildNetworkUnwritten = extras.active && !kinds.has('network');
    if (buildNetworkUnwritten) kinds.add('network');
    const result = replay({
      files: positionals,
      emit: kinds,
      discardEvents: extras.active && emit.size === 0,
      ...(buildNetworkUnwritten && emit.size > 0 ? { writeFilter: (e: Record<string, unknown>) => e.class_uid !== 4001 } : {}),
      flows: flowSettingsFromConfig(cfg.flows),
      ...extras.options,
    });
    const componentCounters = extras.counters();
    await extras.close();
    if (values.stats) {
      process.stderr.write(JSON.stringify({
        files: positionals,
        elapsedMs: Math.round(result.elapsedMs),
        packetsPerSecond: result.packetsPerSecond,
        counters: { ...result.counters, ...componentCounters },
      }, null, 2) + '\n');
    }
    return 0;
  }
  if (command === 'token') {
    const { tokenCommand } = await import('./api/token-cli.js');
    return tokenCommand(rest, (s) => process.stdout.write(s));
  }
  if (command === 'run') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
    const { runDaemon } = await import('./daemon.js');
    const code = await runDaemon(loadConfig(values.config), values.config);
    // libpcap handles are only released on their next packet (the binding's close() breaks the
    // loop but cannot wake it), so an idle interface would keep the process alive after a clean
    // stop: everything is flushed by now, so exit explicitly.
    process.exit(code);
  }
  throw new UsageError(`unknown command "${command}"`);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    if (e.code === 'CLI_USAGE' || (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      || (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`outpost: ${e.message}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`outpost: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
