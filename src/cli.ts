#!/usr/bin/env node
/**
 * The `outpost` command: `outpost run` (the daemon) and `outpost replay` (capture files).
 */
import { parseArgs } from 'node:util';
import { NdjsonWriter, replayFiles } from './replay.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutpostConfig } from './config/index.js';
import { assemble, configuredComponents, openReplayComponents, COMPONENTS, type Component } from './pipeline.js';
import { loadConfig } from './config/index.js';
import { EVENT_KIND_NAMES, type EventKindName } from './events/config.js';
import { OutpostError } from './errors.js';

const USAGE = `usage:
  outpost run [--config FILE]
      the gateway daemon: live capture on the configured interfaces
  outpost replay FILE... [--emit network,dns,http,dhcp,inventory,auth|none] [--with|--without devices,discovery] [--stats] [--quiet] [--config FILE]
      reads pcap/pcapng files, packet timestamps as the clock, through the daemon's pipeline;
      one OCSF JSON event per line on stdout. Defaults are the daemon's (the configuration's
      events.emit, device identity and discovery on); --with runs only the named components,
      --without all but them; dhcp and inventory need devices; --stats prints a JSON summary
      of every counter to stderr; on a terminal a progress line (bytes, packets/s, ETA) is
      shown on stderr unless --quiet
  outpost token create --role admin|read [--name NAME] [--json]
      prints a new admin API token and the api.tokens entry (its SHA-256) for the config
`;

class UsageError extends OutpostError {
  constructor(reason: string) {
    super('CLI_USAGE', { reason });
  }
}

/**
 * Which components a replay runs: those the configuration turns on (the daemon's embedded
 * defaults: device identity and cloud-app discovery), narrowed by `--with` (exactly these) or
 * `--without` (all but these). DHCP Activity and Device Inventory Info events come from device
 * identity, so asking for them brings it in unless `--without devices` says otherwise.
 */
export function replayComponents(cfg: OutpostConfig, emit: ReadonlySet<EventKindName>, withValue?: string, withoutValue?: string): Set<Component> {
  const parse = (flag: string, value: string): Set<Component> => {
    const out = new Set<Component>();
    for (const w of value.split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!(COMPONENTS as readonly string[]).includes(w)) throw new UsageError(`${flag}: unknown component "${w}" (known: ${COMPONENTS.join(', ')})`);
      out.add(w as Component);
    }
    return out;
  };
  if (withValue !== undefined && withoutValue !== undefined) throw new UsageError('--with and --without: give one of them');
  const on = withValue !== undefined ? parse('--with', withValue) : configuredComponents(cfg);
  const off = withoutValue !== undefined ? parse('--without', withoutValue) : new Set<Component>();
  for (const c of off) on.delete(c);
  if ((emit.has('dhcp') || emit.has('inventory')) && !on.has('devices')) {
    if (off.has('devices')) throw new UsageError('--emit dhcp/inventory needs device identity: drop devices from --without');
    on.add('devices');
  }
  return on;
}

export function parseEmit(value: string | undefined, defaults: readonly EventKindName[]): Set<EventKindName> {
  if (value === undefined) return new Set<EventKindName>(defaults);
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
      options: { emit: { type: 'string' }, stats: { type: 'boolean' }, config: { type: 'string' }, with: { type: 'string' }, without: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
    });
    if (positionals.length === 0) throw new UsageError('replay: at least one capture file is required');
    const cfg = loadConfig(values.config);
    // What the daemon writes by default (events.emit), unless --emit says otherwise.
    const emit = parseEmit(values.emit, cfg.events.emit);
    const components = replayComponents(cfg, emit, values.with, values.without);
    // The components' stores live in a temporary folder: a replay never touches the daemon's.
    const dir = components.size > 0 ? mkdtempSync(join(tmpdir(), 'outpost-replay-')) : '';
    const writer = new NdjsonWriter(1);
    try {
      const parts = components.size === 0 ? { identity: null, discovery: null, close: async () => {} }
        : await openReplayComponents(cfg, dir, components, emit);
      const assembled = assemble({ cfg, write: emit, outputs: [writer.write], identity: parts.identity, discovery: parts.discovery });
      // A progress line only for a person watching: stderr is a terminal and --quiet is not given.
      const showProgress = process.stderr.isTTY === true && values.quiet !== true;
      const result = replayFiles(assembled.sensor, positionals, showProgress ? { progress: process.stderr } : {});
      writer.flush();
      const counters = { ...result.counters, ...assembled.counters() };
      await parts.close();
      if (values.stats) {
        process.stderr.write(JSON.stringify({
          files: positionals,
          components: [...components],
          elapsedMs: Math.round(result.elapsedMs),
          packetsPerSecond: result.packetsPerSecond,
          counters,
        }, null, 2) + '\n');
      }
    } finally {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
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
