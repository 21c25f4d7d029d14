/**
 * Syslog sink: CEF (the OCSF mapping of docs/CEF.md, or Cloud Discovery's generic CEF lines with
 * `format: generic-cef`, docs/DISCOVERY-FORMATS.md) in RFC 5424 messages over TCP with RFC 6587 octet counting, over TLS
 * (RFC 5425, same framing), or over UDP (RFC 5426, one message per datagram).
 *
 * Acknowledgement: syslog has no application-level ack. Over TCP/TLS a batch counts as delivered
 * when the socket write completed (the kernel accepted every byte); the kernel still delivers it
 * if this process is killed, but not if the receiver crashes or the connection is reset with data
 * in flight — that residual risk is documented in docs/FORWARDING.md. Over UDP a datagram that was
 * sent may still be lost without any sign: every sent message is counted in `udp_unacknowledged`.
 * A failed connection or write destroys the socket; the runner retries with backoff and the next
 * send reconnects.
 */
import { readFileSync } from 'node:fs';
import type { Socket as UdpSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { OutpostError } from '../../errors.js';
import type { OutboxRecord } from '../outbox.js';
import { OrderedSends, RetryableSinkError, sinkType, type DeliveredHook, type Sink, type SinkType } from '../sink.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';
import { cefPrefix, rfc5424Middle } from '../cef.js';
import { FormatWorker, SYSLOG_FORMATS, type Formatted, type SyslogFormat } from './syslog-format.js';

function readOpt(sink: string, what: string, path: string): string | undefined {
  if (path === '') return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink, reason: `cannot read ${what} ${path}: ${(err as Error).message}` });
  }
}

/**
 * The socket modules, loaded when the first syslog sink connects: the configuration schema
 * imports this file (through src/forward/sinks/index.ts), and a CLI start must not pay for them.
 */
const load = createRequire(import.meta.url);
const sockets = {
  dgram: () => load('node:dgram') as typeof import('node:dgram'),
  net: () => load('node:net') as typeof import('node:net'),
  tls: () => load('node:tls') as typeof import('node:tls'),
};

export class SyslogSink implements Sink {
  readonly type = 'syslog' as const;
  readonly name: string;
  readonly #cfg: SyslogSinkConfig;
  readonly #tls: { ca?: string; cert?: string; key?: string };
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #udp: UdpSocket | undefined;
  readonly #order = new OrderedSends();
  /** Formats TCP/TLS batches in a worker thread (in-thread for UDP and small batches). */
  readonly #format: FormatWorker;
  readonly counters = { connects: 0, connectFailures: 0, disconnects: 0, udpUnacknowledged: 0, udpTruncated: 0, bytesSent: 0 };

  constructor(cfg: SyslogSinkConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
    const ca = readOpt(cfg.name, 'tlsCaFile', cfg.tlsCaFile);
    const cert = readOpt(cfg.name, 'tlsCertFile', cfg.tlsCertFile);
    const key = readOpt(cfg.name, 'tlsKeyFile', cfg.tlsKeyFile);
    this.#tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    // Per-sink constant parts of every message, computed once.
    const rfc = { facility: cfg.facility, hostname: cfg.hostname, appName: cfg.appName };
    this.#format = new FormatWorker({
      prefix: cefPrefix({ vendor: cfg.cefDeviceVendor, product: cfg.cefDeviceProduct, version: cfg.cefDeviceVersion }),
      rfc,
      middle: rfc5424Middle(rfc),
      format: cfg.format,
    });
  }

  /** The RFC 5424 message (without framing) for one record; '' when it makes none in the sink's format. */
  format(r: OutboxRecord): string {
    return this.#format.message(r.json, r.uid);
  }

  /**
   * Formatted at once (ahead, while earlier batches are in flight: in the worker thread, so the
   * next batches are formatted while this thread writes and reads the outbox); written in order.
   * Formatting waits for a connection: while the receiver is down every retry would format the
   * batches in flight again for nothing.
   */
  send(batch: OutboxRecord[], signal: AbortSignal, delivered?: DeliveredHook): Promise<void> {
    // UDP: formatted ahead in the worker thread too (packed messages, one datagram each).
    if (this.#cfg.transport === 'udp') return this.#order.run(() => this.#format.packedOf(batch), (f) => this.#sendUdp(f), delivered);
    return this.#order.run(
      async () => {
        await this.#connect(signal);
        return this.#format.framesOf(batch);
      },
      (buf) => this.#write(buf, signal),
      delivered,
    );
  }

  async #write(buf: Buffer, signal: AbortSignal): Promise<void> {
    // A batch whose records all make no message (generic-cef: only Open/interim/other events) is
    // acknowledged without a write.
    if (buf.length === 0) return;
    const sock = await this.#connect(signal);
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onClose = () => {
        cleanup();
        reject(new RetryableSinkError('connection closed during write'));
      };
      const cleanup = () => {
        sock.off('error', onErr);
        sock.off('close', onClose);
      };
      sock.once('error', onErr);
      sock.once('close', onClose);
      sock.write(buf, (err) => {
        cleanup();
        if (err) reject(err);
        else resolve();
      });
    }).catch((err: unknown) => {
      this.#drop();
      throw new RetryableSinkError((err as Error).message, undefined, { cause: err });
    });
    this.counters.bytesSent += buf.length;
    // Written (the socket's callback: the bytes are the kernel's, or TLS's encrypted copy): the
    // buffer goes back to the format worker. A failed write's buffer is left to the collector.
    this.#format.recycle(buf);
  }

  async #sendUdp(f: Formatted): Promise<void> {
    if (!this.#udp) {
      this.#udp = sockets.dgram().createSocket(this.#cfg.host.includes(':') ? 'udp6' : 'udp4');
      this.#udp.on('error', () => this.#drop());
    }
    const u = this.#udp;
    const max = this.#cfg.udpMaxMessageBytes;
    const sends: Promise<void>[] = [];
    const ends = f.ends ?? new Uint32Array(0);
    let start = 0;
    let sent = 0;
    for (let i = 0; i < ends.length; i++) {
      let b = f.buf.subarray(start, ends[i]!);
      start = ends[i]!;
      if (b.length === 0) continue; // the record makes no message in this format
      sent++;
      if (b.length > max) {
        b = b.subarray(0, max);
        this.counters.udpTruncated++;
      }
      this.counters.bytesSent += b.length;
      sends.push(new Promise((resolve, reject) => u.send(b, this.#cfg.port, this.#cfg.host, (err) => (err ? reject(err) : resolve()))));
    }
    try {
      await Promise.all(sends);
    } catch (err) {
      this.#drop();
      throw new RetryableSinkError((err as Error).message, undefined, { cause: err });
    }
    this.counters.udpUnacknowledged += sent;
    this.#format.recycle(f.buf); // every datagram sent (see #write)
  }

  /** The connected socket; one connection attempt at a time (batches in flight share it). */
  #connect(signal: AbortSignal): Promise<Socket> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    return (this.#connecting ??= this.#open(signal).finally(() => (this.#connecting = undefined)));
  }

  #open(signal: AbortSignal): Promise<Socket> {
    const c = this.#cfg;
    return new Promise<Socket>((resolve, reject) => {
      const sock =
        c.transport === 'tls'
          ? sockets.tls().connect({ host: c.host, port: c.port, servername: c.tlsServerName || c.host, rejectUnauthorized: true, ...this.#tls })
          : sockets.net().connect({ host: c.host, port: c.port });
      const timer = setTimeout(() => fail(new Error(`connect timeout after ${c.connectTimeoutMs} ms`)), c.connectTimeoutMs);
      const onAbort = () => fail(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const fail = (err: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        this.counters.connectFailures++;
        reject(new RetryableSinkError(`${c.transport}://${c.host}:${c.port}: ${err.message}`, undefined, { cause: err }));
      };
      sock.once('error', fail);
      sock.once(c.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 30_000);
        // Syslog receivers never send; anything read is ignored. Errors later surface in send().
        sock.on('data', () => undefined);
        sock.on('error', () => undefined);
        sock.on('close', () => {
          if (this.#socket === sock) {
            this.#socket = undefined;
            this.counters.disconnects++;
          }
        });
        this.#socket = sock;
        this.counters.connects++;
        resolve(sock);
      });
    });
  }

  #drop(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#udp?.close();
    this.#udp = undefined;
  }

  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = undefined;
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.end(resolve));
    this.#udp?.close();
    this.#udp = undefined;
    await this.#format.close();
  }

  extraStats(): Record<string, number> {
    return {
      connects: this.counters.connects,
      connect_failures: this.counters.connectFailures,
      disconnects: this.counters.disconnects,
      udp_unacknowledged: this.counters.udpUnacknowledged,
      udp_truncated: this.counters.udpTruncated,
      bytes_sent: this.counters.bytesSent,
      unparsable: this.#format.unparsable,
      events_without_line: this.#format.withoutLine,
      format_worker_failures: this.#format.counters.failures,
      format_worker_batches: this.#format.counters.workerBatches,
    };
  }
}

export interface SyslogSinkConfig extends SinkCommon {
  format: SyslogFormat;
  transport: 'tcp' | 'tls' | 'udp';
  host: string;
  port: number;
  facility: number;
  appName: string;
  hostname: string;
  udpMaxMessageBytes: number;
  connectTimeoutMs: number;
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsServerName: string;
  cefDeviceVendor: string;
  cefDeviceProduct: string;
  cefDeviceVersion: string;
}

const syslogSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...sinkCommonProps(1000, 4 * 1024 * 1024, 4),
    format: { type: 'string', enum: [...SYSLOG_FORMATS], default: 'cef', description: "Message content: 'cef' (every OCSF event as CEF, docs/CEF.md) or 'generic-cef' (Cloud Discovery's generic CEF: one line per flow and per HTTP request, for its log collector's Syslog receivers; other events are acknowledged unsent and counted in events_without_line; the cefDevice* settings do not apply). See docs/DISCOVERY-FORMATS.md." },
    transport: { type: 'string', enum: ['tcp', 'tls', 'udp'], default: 'tcp', description: "'tcp' (RFC 6587 octet counting), 'tls' (RFC 5425) or 'udp' (RFC 5426; loss cannot be detected and is counted as unknowable)." },
    host: { type: 'string', default: '127.0.0.1', description: 'Syslog receiver host.' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 514, description: 'Syslog receiver port (usual: 514 tcp/udp, 6514 tls).' },
    facility: { type: 'integer', minimum: 0, maximum: 23, default: 16, description: 'Syslog facility number (16 = local0); severity comes from the event.' },
    appName: { type: 'string', default: 'outpost', description: 'RFC 5424 APP-NAME.' },
    hostname: { type: 'string', default: '', description: 'RFC 5424 HOSTNAME; empty for the machine host name.' },
    udpMaxMessageBytes: { type: 'integer', minimum: 480, maximum: 65507, default: 8192, description: 'Longest UDP datagram in bytes; longer messages are truncated and counted.' },
    connectTimeoutMs: { type: 'integer', minimum: 100, default: 10_000, description: 'Time limit for a TCP/TLS connection (and handshake), in ms.' },
    tlsCaFile: tlsFileSetting('CA certificate(s) that verify the receiver (tls transport)'),
    tlsCertFile: tlsFileSetting('Client certificate (tls transport)'),
    tlsKeyFile: tlsFileSetting('Client private key (tls transport)'),
    tlsServerName: { type: 'string', default: '', description: 'Name checked against the receiver certificate; empty to use host.' },
    cefDeviceVendor: { type: 'string', default: 'Outpost', description: 'CEF Device Vendor header field.' },
    cefDeviceProduct: { type: 'string', default: 'Outpost Sensor', description: 'CEF Device Product header field.' },
    cefDeviceVersion: { type: 'string', default: '0.1.0', description: 'CEF Device Version header field.' },
  },
} as const;

export const syslogSinkType: SinkType<SyslogSinkConfig> = sinkType<SyslogSinkConfig>(
  'Syslog sinks: CEF (OCSF or Cloud Discovery generic CEF) in RFC 5424 messages.',
  syslogSinkSchema,
  (cfg) => new SyslogSink(cfg),
);
