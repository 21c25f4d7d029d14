/**
 * `npm run bench:live`: the highest live packet rate `outpost run` captures with zero kernel
 * drops. A veth pair with one end in a network namespace; tcpreplay sends a capture into the
 * namespace end at increasing rates while the daemon captures the host end; after each step the
 * daemon's /v1/stats tells how many packets libpcap delivered and how many the kernel dropped.
 *
 * Needs root, iproute2 and tcpreplay. Usage: npm run bench:live [-- --file PCAP] [--seconds 5]
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

interface Stats { counters: Record<string, number>; interfaces: Array<{ packetsReceived: number; kernelDrops: number; interfaceDrops: number; packetsDelivered: number }> }

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { file: { type: 'string' }, seconds: { type: 'string' }, rates: { type: 'string' } } });
  if (process.getuid?.() !== 0 || !has('ip') || !has('tcpreplay')) {
    console.error('bench:live skipped: needs root, iproute2 and tcpreplay');
    return;
  }
  const file = resolve(values.file ?? 'bench-cache/bench-5.pcap');
  if (!existsSync(file)) {
    console.error(`bench:live: capture ${file} missing (build it with OUTPOST_BENCH_COPIES=5 npm run bench, or pass --file)`);
    process.exitCode = 1;
    return;
  }
  const seconds = Number(values.seconds ?? 5);
  const rates = (values.rates ?? '50000,100000,200000,300000,400000,0').split(',').map(Number);
  const ns = `opbl${process.pid}`, hostIf = `opbl${process.pid % 10000}h`, nsIf = `opbl${process.pid % 10000}n`;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-live-'));
  const port = 21000 + (process.pid % 10000);
  const cleanup = () => { spawnSync('ip', ['link', 'del', hostIf]); spawnSync('ip', ['netns', 'del', ns]); rmSync(dir, { recursive: true, force: true }); };
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  execFileSync('ip', ['link', 'set', nsIf, 'netns', ns]);
  spawnSync('sysctl', ['-qw', `net.ipv6.conf.${hostIf}.disable_ipv6=1`]);
  // The corpus holds frames captured with segmentation offload (up to 64 KiB); a veth drops
  // frames above its MTU before any capture sees them, so raise it to the maximum.
  execFileSync('ip', ['link', 'set', hostIf, 'mtu', '65535']);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'mtu', '65535']);
  execFileSync('ip', ['link', 'set', hostIf, 'up']);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up']);
  const config = join(dir, 'outpost.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\nlogLevel: warn\ncapture:\n  interfaces: [${hostIf}]\n  bufferSizeBytes: 268435456\napi:\n  port: ${port}\n`);
  const daemon = spawn(process.execPath, ['dist/cli.js', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stats = async (): Promise<Stats | null> => {
    try { const r = await fetch(`http://127.0.0.1:${port}/v1/stats`); return r.ok ? await r.json() as Stats : null; } catch { return null; }
  };
  try {
    for (let i = 0; i < 100 && (await stats()) === null; i++) await sleep(100);
    const rows: Array<{ requestedPps: number; sentPps: number; sent: number; delivered: number; kernelDrops: number; interfaceDrops: number; drainMs: number }> = [];
    let best = 0;
    for (const pps of rates) {
      const before = (await stats())!;
      // Rate 0 means as fast as tcpreplay can send (--topspeed), for a fixed 2 M packets.
      const limit = pps > 0 ? pps * seconds : 2_000_000;
      const rate = pps > 0 ? `--pps=${pps}` : '--topspeed';
      const r = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', rate, `--limit=${limit}`, '--loop=0', '-i', nsIf, file], { encoding: 'utf8' });
      const sentMatch = /Actual: (\d+) packets .*? ([\d.]+) seconds/.exec(r.stdout);
      const ratedMatch = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(r.stdout);
      const sent = sentMatch ? Number(sentMatch[1]) : limit;
      // Wait until the daemon has drained its ring: delivered stops growing for a second.
      const t0 = Date.now();
      let after = (await stats())!;
      for (;;) {
        await sleep(1000);
        const next = (await stats())!;
        const stable = next.interfaces[0]!.packetsDelivered === after.interfaces[0]!.packetsDelivered;
        after = next;
        if (stable || Date.now() - t0 > 60_000) break;
      }
      const drainMs = Date.now() - t0;
      const a = after.interfaces[0]!, b = before.interfaces[0]!;
      const row = {
        requestedPps: pps,
        sentPps: ratedMatch ? Math.round(Number(ratedMatch[1])) : pps,
        sent,
        delivered: a.packetsDelivered - b.packetsDelivered,
        kernelDrops: a.kernelDrops - b.kernelDrops,
        interfaceDrops: a.interfaceDrops - b.interfaceDrops,
        drainMs,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      if (row.kernelDrops === 0 && row.delivered >= row.sent) best = Math.max(best, row.sentPps);
      else break;
    }
    const result = { file, seconds, rows, highestZeroDropPps: best };
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/bench-live.json', JSON.stringify(result, null, 2));
    console.log(`highest rate with zero kernel drops: ${best} packets/s (tcpreplay into a veth; test-output/bench-live.json)`);
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    cleanup();
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
