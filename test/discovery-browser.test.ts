/**
 * The discovered-apps page in a real browser: a lab capture (built here with test/support
 * builders: TLS ClientHellos with SNI and plain HTTP with Host headers, from three clients) is
 * replayed through src/replay.ts into Discovery (enricher + aggregation observer); a fastify
 * instance serves the discovery plugin; headless Chromium (Debian's, driven by playwright-core)
 * opens /v1/discovery/ui/, and the table must show each app with the upload the capture carried.
 * Screenshot: test-output/discovery-page.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { ethernet, ipv4, tcp, pcapFile, ETH_IPV4, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type PcapRecord } from './support/packets.js';
import { chromeLikeClientHelloBody, handshake, records } from '../src/protocols/tls/fixtures.js';
import { replay } from '../src/replay.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { Discovery } from '../src/discovery/discovery.js';
import { discoveryRoutes } from '../src/discovery/routes.js';

const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';

interface LabFlow { client: string; clientMac: string; server: string; sport: number; dport: number; first: Buffer; upBytes: number; downBytes: number }

const SERVER_MAC = '02:00:00:00:00:fe';

/** One TCP conversation; returns its frames and the frame bytes each way (what the sensor counts). */
function conversation(f: LabFlow, t0Us: number): { frames: PcapRecord[]; up: number; down: number } {
  const frames: PcapRecord[] = [];
  let t = t0Us, up = 0, down = 0, cseq = 1000, sseq = 5000;
  const send = (fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0)): void => {
    const seg = fromClient
      ? tcp({ sport: f.sport, dport: f.dport, seq: cseq, ack: sseq, flags }, payload)
      : tcp({ sport: f.dport, dport: f.sport, seq: sseq, ack: cseq, flags }, payload);
    const ip = fromClient ? ipv4({ src: f.client, dst: f.server }, seg) : ipv4({ src: f.server, dst: f.client }, seg);
    const frame = fromClient ? ethernet(SERVER_MAC, f.clientMac, ETH_IPV4, ip) : ethernet(f.clientMac, SERVER_MAC, ETH_IPV4, ip);
    frames.push({ data: frame, tsUs: (t += 1000) });
    const inc = payload.length + ((flags & (TCP_SYN | TCP_FIN)) !== 0 ? 1 : 0);
    if (fromClient) { up += frame.length; cseq += inc; } else { down += frame.length; sseq += inc; }
  };
  send(true, TCP_SYN);
  send(false, TCP_SYN | TCP_ACK);
  send(true, TCP_ACK);
  send(true, TCP_PSH | TCP_ACK, f.first);
  for (let left = f.upBytes; left > 0; left -= 1400) send(true, TCP_ACK, Buffer.alloc(Math.min(1400, left), 0x61));
  for (let left = f.downBytes; left > 0; left -= 1400) send(false, TCP_ACK, Buffer.alloc(Math.min(1400, left), 0x62));
  send(true, TCP_FIN | TCP_ACK);
  send(false, TCP_FIN | TCP_ACK);
  send(true, TCP_ACK);
  return { frames, up, down };
}

const tlsHello = (host: string): Buffer => records(handshake(1, chromeLikeClientHelloBody(undefined, host)));
const httpGet = (host: string): Buffer => Buffer.from(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: lab\r\nContent-Type: application/octet-stream\r\n\r\n`);

/** The lab: which app each conversation belongs to, and the capture. */
export function buildLab(t0Us: number): { pcap: Buffer; expected: Map<string, { up: number; down: number; devices: Set<string> }> } {
  const A = { client: '192.168.10.21', clientMac: '02:00:00:00:00:21' };
  const B = { client: '192.168.10.22', clientMac: '02:00:00:00:00:22' };
  const C = { client: '192.168.10.23', clientMac: '02:00:00:00:00:23' };
  const lab: Array<[string, LabFlow]> = [
    ['slack', { ...A, server: '34.2.0.10', sport: 40001, dport: 443, first: tlsHello('files.slack.com'), upBytes: 180_000, downBytes: 20_000 }],
    ['slack', { ...B, server: '34.2.0.11', sport: 40002, dport: 443, first: tlsHello('app.slack.com'), upBytes: 25_000, downBytes: 90_000 }],
    ['dropbox', { ...A, server: '162.125.0.5', sport: 40003, dport: 80, first: httpGet('content.dropboxapi.com'), upBytes: 900_000, downBytes: 4_000 }],
    ['github', { ...C, server: '140.82.0.3', sport: 40004, dport: 443, first: tlsHello('GitHub.com.'), upBytes: 3_000, downBytes: 600_000 }],
    ['wetransfer', { ...C, server: '52.3.0.9', sport: 40005, dport: 443, first: tlsHello('wetransfer.com'), upBytes: 2_500_000, downBytes: 30_000 }],
    ['chatgpt', { ...B, server: '104.18.0.7', sport: 40006, dport: 443, first: tlsHello('chatgpt.com'), upBytes: 60_000, downBytes: 150_000 }],
    ['unclassified:lab-unknown.co.uk', { ...B, server: '203.0.113.50', sport: 40007, dport: 80, first: httpGet('www.lab-unknown.co.uk'), upBytes: 12_000, downBytes: 40_000 }],
  ];
  const frames: PcapRecord[] = [];
  const expected = new Map<string, { up: number; down: number; devices: Set<string> }>();
  lab.forEach(([app, f], i) => {
    const c = conversation(f, t0Us + i * 2_000_000);
    frames.push(...c.frames);
    const e = expected.get(app) ?? { up: 0, down: 0, devices: new Set<string>() };
    e.up += c.up; e.down += c.down; e.devices.add(f.clientMac);
    expected.set(app, e);
  });
  frames.sort((a, b) => a.tsUs - b.tsUs);
  return { pcap: pcapFile(frames, 1), expected };
}

const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;

test('discovered-apps page shows the lab apps with their upload figures', { skip, timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-ui-'));
  const discovery = new Discovery({ dataDir: dir, config: { flushIntervalMs: 60_000 } });
  const app = Fastify({ logger: false });
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  let profile: string | undefined;
  try {
    await discovery.open();
    // Sanction states shown on the page.
    await discovery.setSanction('wetransfer', 'unsanctioned', 'test');
    await discovery.setSanction('slack', 'sanctioned', 'test');
    const t0Us = (Date.now() - 30 * 60_000) * 1000;
    const lab = buildLab(t0Us);
    const file = join(dir, 'lab.pcap');
    writeFileSync(file, lab.pcap);
    const sink = discovery.observingSink(() => {});
    const enrich = discovery.enricher;
    replay({ files: [file], emit: new Set(['network']), flows: DEFAULT_FLOW_SETTINGS, sink: (e) => { enrich(e as Record<string, unknown>); sink(e); } });

    await app.register(discoveryRoutes, { discovery, prefix: '/v1' });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    profile = mkdtempSync(join(tmpdir(), 'outpost-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${address}/v1/discovery/ui/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });

    const rows = await page.$$eval('#apps tbody tr[data-app-id]', (trs) => trs.map((tr) => ({
      id: tr.getAttribute('data-app-id'),
      name: tr.querySelector('td.name strong')?.textContent,
      up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')),
      upText: tr.querySelector('td.up span')?.textContent,
      down: Number(tr.querySelector('td.down')?.getAttribute('data-bytes')),
      devices: Number(tr.querySelector('td.devices')?.textContent),
      sanction: tr.className,
    })));
    assert.equal(rows.length, lab.expected.size, `rows: ${JSON.stringify(rows)}`);
    for (const [id, e] of lab.expected) {
      const r = rows.find((x) => x.id === id);
      assert.ok(r, `row for ${id}`);
      assert.equal(r.up, e.up, `${id} upload`);
      assert.equal(r.down, e.down, `${id} download`);
      assert.equal(r.devices, e.devices.size, `${id} devices`);
    }
    // Default sort: upload, descending — WeTransfer (2.5 MB up, unsanctioned) first.
    assert.equal(rows[0]!.id, 'wetransfer');
    assert.equal(rows[0]!.sanction, 'unsanctioned');
    assert.match(rows[0]!.upText ?? '', /^2\.\d MB$/);
    assert.equal(rows.find((r) => r.id === 'unclassified:lab-unknown.co.uk')?.name, 'lab-unknown.co.uk');

    // Drill-down: Slack's two devices.
    await page.click('tr[data-app-id="slack"]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length === 2");
    const devices = await page.$$eval('#devices tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-device')));
    assert.deepEqual(new Set(devices), new Set(['mac:02:00:00:00:00:21', 'mac:02:00:00:00:00:22']));

    // Risk filter: only apps with a known score ≤ 4 (the scored Microsoft/Google/Atlassian/AWS entries) — none in the lab.
    await page.fill('#maxRisk', '4');
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction("document.querySelectorAll('#apps tbody tr[data-app-id]').length === 0");
    await page.fill('#maxRisk', '');
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction(`document.querySelectorAll('#apps tbody tr[data-app-id]').length === ${lab.expected.size}`);
    await page.click('tr[data-app-id="slack"]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length === 2");

    const out = resolve(process.cwd(), 'test-output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'discovery-page.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    // Removed only once the browser is closed; its child processes may still be flushing.
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    await app.close();
    await discovery.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
