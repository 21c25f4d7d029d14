import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveCapture, LiveCaptureError, type LiveCaptureOptions } from './live.js';
import { LinkType } from './types.js';
import { OutpostError } from '../errors.js';

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function pcapAvailable(): boolean {
  try {
    LiveCapture.listInterfaces();
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;
const liveSkip = !isRoot
  ? 'live capture test needs root (creates a network namespace and a veth pair)'
  : !hasCommand('ip')
    ? 'live capture test needs the `ip` command (iproute2)'
    : !hasCommand('tcpreplay')
      ? 'live capture test needs tcpreplay'
      : !pcapAvailable()
        ? 'live capture test needs the pcap native module'
        : false;

const UDP_PORT = 47999;
const OTHER_PORT = 48000;

/** Ethernet broadcast / IPv4 / UDP frame carrying `id` in its payload. */
function udpFrame(id: number, dstPort: number): Buffer {
  const payload = Buffer.alloc(18);
  payload.write('outpost', 0);
  payload.writeUInt32BE(id, 8);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip.writeUInt16BE(id & 0xffff, 4);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([192, 0, 2, 10]).copy(ip, 12);
  Buffer.from([192, 0, 2, 255]).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const eth = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return Buffer.concat([eth, ip, udp, payload]);
}

function pcapFile(frames: Buffer[]): Buffer {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  const parts: Buffer[] = [hdr];
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1700000000 + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, f);
  });
  return Buffer.concat(parts);
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

describe('LiveCapture (no privileges needed)', () => {
  it('listInterfaces() returns libpcap devices', { skip: pcapAvailable() ? false : 'pcap native module unavailable' }, () => {
    const list = LiveCapture.listInterfaces();
    assert.ok(Array.isArray(list));
    for (const d of list) {
      assert.equal(typeof d.name, 'string');
      assert.ok(Array.isArray(d.addresses));
      assert.equal(typeof d.loopback, 'boolean');
    }
  });

  it('a nonexistent interface gives CAPTURE_INTERFACE_OPEN_FAILED naming it', { skip: pcapAvailable() ? false : 'pcap native module unavailable' }, () => {
    const cap = new LiveCapture(
      { interfaces: ['outpostnope0'], bpfFilter: '', snaplenBytes: 65535, promiscuous: false, bufferSizeBytes: 1 << 20, bufferTimeoutMs: 10 },
      () => {},
    );
    assert.throws(
      () => cap.start(new AbortController().signal),
      (e: unknown) =>
        e instanceof LiveCaptureError &&
        e.code === 'CAPTURE_INTERFACE_OPEN_FAILED' &&
        e.interfaceName === 'outpostnope0' &&
        e.message.includes('outpostnope0'),
    );
    assert.equal(cap.isRunning, false);
    assert.equal(cap.isClosed, true, 'nothing left open (activation failed, no fd to poll)');
  });

  it('a second start() gives CAPTURE_ALREADY_STARTED, an OutpostError', () => {
    const cap = new LiveCapture(
      { interfaces: ['outpostnope0'], bpfFilter: '', snaplenBytes: 65535, promiscuous: false, bufferSizeBytes: 1 << 20, bufferTimeoutMs: 10 },
      () => {},
    );
    const aborted = AbortSignal.abort();
    cap.start(aborted); // an aborted signal: marked started, nothing opened
    assert.throws(
      () => cap.start(aborted),
      (e: unknown) => e instanceof LiveCaptureError && e instanceof OutpostError && e.code === 'CAPTURE_ALREADY_STARTED' && e.httpStatus === 500,
    );
  });
});

describe('LiveCapture on a veth pair', { skip: liveSkip }, () => {
  const tag = `${process.pid % 100000}`;
  const ns = `outpost-cap-${tag}`;
  const vethHost = `ocH${tag}`; // interface names are limited to 15 characters
  const vethNs = `ocN${tag}`;
  let dir = '';
  let created = false;

  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const replay = (file: string): void => {
    execFileSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '-t', '-i', vethNs, file], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const options = (): LiveCaptureOptions => ({
    interfaces: [vethHost],
    bpfFilter: `udp dst port ${UDP_PORT}`,
    snaplenBytes: 65535,
    promiscuous: true,
    bufferSizeBytes: 2 << 20,
    bufferTimeoutMs: 10,
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-live-'));
    ip('netns', 'add', ns);
    created = true;
    ip('link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs);
    ip('link', 'set', vethNs, 'netns', ns);
    ip('link', 'set', vethHost, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', vethNs, 'up');
  });

  after(() => {
    if (created) {
      // Deleting the namespace destroys vethNs and, with it, its peer vethHost.
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', vethHost], { stdio: 'ignore' });
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('sees every packet sent from the namespace, applies the BPF filter, reports stats', async () => {
    const n = 200;
    const frames: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      frames.push(udpFrame(i, UDP_PORT));
      if (i % 4 === 0) frames.push(udpFrame(100000 + i, OTHER_PORT)); // filtered out in the kernel
    }
    const file = join(dir, 'send.pcap');
    writeFileSync(file, pcapFile(frames));

    const seenIds = new Set<number>();
    let bad = 0;
    const startUs = Date.now() * 1000;
    const cap = new LiveCapture(options(), (buf, offset, capLen, wireLen, tsUs, linkType, ifIndex) => {
      const ok =
        linkType === LinkType.ETHERNET &&
        ifIndex === 0 &&
        capLen === 60 &&
        wireLen === 60 &&
        Math.abs(tsUs - startUs) < 120e6 &&
        buf.toString('latin1', offset + 42, offset + 49) === 'outpost' &&
        buf.readUInt16BE(offset + 36) === UDP_PORT;
      if (!ok) bad++;
      seenIds.add(buf.readUInt32BE(offset + 50));
    });
    const ac = new AbortController();
    cap.start(ac.signal);
    try {
      assert.deepEqual(cap.linkTypes, [LinkType.ETHERNET]);
      replay(file);
      const all = await waitFor(() => seenIds.size >= n, 5000);
      assert.ok(all, `saw ${seenIds.size} of ${n} packets`);
      await sleep(100); // anything extra (filtered packets, duplicates) would arrive by now
      assert.equal(seenIds.size, n);
      for (let i = 0; i < n; i++) assert.ok(seenIds.has(i), `packet ${i} seen`);
      assert.equal(bad, 0, 'every packet has the expected header fields');

      const [st] = cap.stats();
      assert.ok(st !== undefined);
      assert.equal(st.interface, vethHost);
      assert.equal(st.packetsDelivered, n);
      for (const v of [st.packetsReceived, st.kernelDrops, st.interfaceDrops]) {
        assert.equal(typeof v, 'number');
        assert.ok(Number.isInteger(v) && v >= 0);
      }
      assert.ok(st.packetsReceived >= n, `ps_recv ${st.packetsReceived} >= ${n}`);
      assert.equal(st.kernelDrops, 0);
      assert.equal(cap.counters.packets, n);
    } finally {
      ac.abort(); // stop() through the signal
    }
    assert.equal(cap.isRunning, false);
    const before = seenIds.size;
    // libpcap notices the close request on the next packet (see live.ts); send one so the handle
    // is released and the test process can exit.
    const wake = join(dir, 'wake.pcap');
    writeFileSync(wake, pcapFile([udpFrame(999999, UDP_PORT)]));
    replay(wake);
    assert.ok(await waitFor(() => cap.isClosed, 3000), 'libpcap handle released after the next packet');
    assert.equal(seenIds.size, before, 'no packet delivered after stop()');
    const [st] = cap.stats();
    assert.equal(st?.packetsDelivered, n, 'stats() still answers after stop');
  });

  it('a bad BPF filter gives CAPTURE_INTERFACE_OPEN_FAILED with libpcap\'s reason, and the socket is released', async () => {
    const cap = new LiveCapture({ ...options(), bpfFilter: 'udp port and and' }, () => {});
    assert.throws(
      () => cap.start(new AbortController().signal),
      (e: unknown) =>
        e instanceof LiveCaptureError &&
        e.code === 'CAPTURE_INTERFACE_OPEN_FAILED' &&
        e.message.includes(vethHost) &&
        /syntax error|parse/.test(e.message),
    );
    const wake = join(dir, 'wake3.pcap');
    writeFileSync(wake, pcapFile([udpFrame(2, UDP_PORT)]));
    replay(wake);
    assert.ok(await waitFor(() => cap.isClosed, 3000), 'the activated handle is closed by libpcap');
  });

  it('opening several interfaces fails as a whole when one is missing, stopping the others', async () => {
    const cap = new LiveCapture({ ...options(), interfaces: [vethHost, 'outpostnope1'] }, () => {});
    assert.throws(
      () => cap.start(new AbortController().signal),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'CAPTURE_INTERFACE_OPEN_FAILED' && e.interfaceName === 'outpostnope1',
    );
    assert.equal(cap.isRunning, false);
    const wake = join(dir, 'wake2.pcap');
    writeFileSync(wake, pcapFile([udpFrame(1, UDP_PORT)]));
    replay(wake);
    assert.ok(await waitFor(() => cap.isClosed, 3000), 'the interface opened first is released');
  });
});
