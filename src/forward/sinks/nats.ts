/**
 * NATS JetStream sink: one message per event on `subject`, with the event uid as message id
 * (Nats-Msg-Id: JetStream drops a re-publish within the stream's duplicate_window).
 *
 * Publishing: a batch's messages are published at once as plain NATS publishes whose reply
 * subject is the batch's inbox subject (`<inbox>.<n>`, one per batch, shared by its messages),
 * which is how a JetStream publish asks for its acknowledgement (the PubAck, JSON): the server
 * sends exactly one PubAck per publish, so the batch counts them down. One subscription on
 * `<inbox>.*` takes every acknowledgement: no request object, promise, timer, reply subject or map
 * entry per message (nats.js's js.publish() has each, and ran at 14-18 k events/s); one timer per
 * batch (publishTimeoutMs). The batch's HPUB frames are written into one buffer here
 * (encodeHpubBatch) and handed to the connection as one write: nats.js's publish() builds a
 * header object, encodes payload and protocol line apart and copies them again into its outbound
 * buffer for every message, which was about half of the sink's own time in bench:forward. A
 * successful PubAck is recognised without building an object (readPubAck). Up to
 * maxInFlightBatches batches are published ahead, so publishes in flight are bounded by
 * maxInFlightBatches × batchMaxEvents. Acknowledgements are taken as they come, but a batch is
 * reported acknowledged (and its cursor position stored) only after every earlier batch was, so
 * the cursor only ever passes a contiguous acknowledged prefix. An error PubAck, "no responders"
 * (no stream captures the subject), a timeout or a lost connection fails the batch and every later
 * one, which are published again after the backoff: the message ids make the re-sends harmless
 * within duplicate_window, but after such a failure the stream may hold a later batch's messages
 * before the re-sent ones.
 */
import type { MsgHdrs, NatsConnection, Subscription } from 'nats';
import type { OutboxRecord } from '../outbox.js';
import { jsonByteLength, writeJson } from '../record-bytes.js';
import { OrderedSends, RetryableSinkError, sinkType, type DeliveredHook, type Sink, type SinkType } from '../sink.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A batch being published: how many acknowledgements it still awaits. */
interface InFlight {
  waiting: number;
  failed: Error | undefined;
  done: () => void;
}

export class NatsSink implements Sink {
  readonly type = 'nats' as const;
  readonly name: string;
  readonly #cfg: NatsSinkConfig;
  #nc: NatsConnection | undefined;
  #sub: Subscription | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  #inbox = '';
  #nextToken = 0;
  /** Reply token → its batch, for every batch with publishes not yet acknowledged. */
  readonly #byToken = new Map<number, InFlight>();
  /**
   * Batches count as delivered in the order handed to send(): a batch waits only for one still
   * pending when it was handed over, so a retry after a failure does not wait for the failed batch.
   */
  readonly #order = new OrderedSends('not acknowledged: an earlier batch failed');
  #headers: (() => MsgHdrs) | undefined;
  readonly counters = { duplicates: 0, connects: 0, acks: 0 };

  constructor(cfg: NatsSinkConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
  }

  /** The connection; one attempt at a time (batches in flight share it). */
  #client(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed()) return Promise.resolve(this.#nc);
    return (this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined)));
  }

  async #open(): Promise<NatsConnection> {
    const c = this.#cfg;
    let nc: NatsConnection;
    try {
      // Loaded on first use: the configuration schema imports this file (src/forward/sinks/index.ts)
      // and must not pay for the NATS client at every start of the CLI.
      const nats = await import('nats');
      this.#headers = nats.headers;
      nc = await nats.connect({
        servers: c.servers,
        name: `outpost-${c.name}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        timeout: c.publishTimeoutMs,
        ...(c.token ? { token: c.token } : {}),
        ...(c.user ? { user: c.user, pass: c.password } : {}),
        ...(c.tlsCaFile ? { tls: { caFile: c.tlsCaFile } } : {}),
      });
      this.#inbox = nats.createInbox();
    } catch (err) {
      throw new RetryableSinkError(`connect ${c.servers.join(',')}: ${(err as Error).message}`, undefined, { cause: err });
    }
    this.#nc = nc;
    this.#sub = nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          for (const b of new Set(this.#byToken.values())) this.#fail(b, err);
          return;
        }
        const token = Number(msg.subject.slice(this.#inbox.length + 1));
        const b = this.#byToken.get(token);
        if (!b) return; // a late acknowledgement of a batch that already failed or timed out
        if (--b.waiting === 0) this.#byToken.delete(token);
        // "No responders" (no stream captures the subject): a status message, no payload.
        if (msg.headers?.hasError) return this.#fail(b, new Error(`no stream for ${this.#cfg.subject}: ${msg.headers.code} ${msg.headers.description}`));
        const ack = readPubAck(msg.data);
        if (ack === undefined) return this.#fail(b, new Error('unreadable JetStream acknowledgement'));
        if (ack.error) return this.#fail(b, new Error(`JetStream: ${ack.error.code ?? ''} ${ack.error.description ?? ''}`.trim()));
        this.counters.acks++;
        if (ack.duplicate) this.counters.duplicates++;
        if (b.waiting === 0) b.done();
      },
    });
    this.counters.connects++;
    return nc;
  }

  #fail(b: InFlight, err: Error): void {
    b.failed ??= err;
    b.done();
  }

  async send(batch: OutboxRecord[], _signal: AbortSignal, delivered?: DeliveredHook): Promise<void> {
    // Publishing waits for this batch's acknowledgements; it counts only once every earlier
    // batch was acknowledged too, so nothing needs sending after that.
    await this.#order.run(() => this.#publish(batch), async () => {}, delivered);
  }

  async #publish(batch: OutboxRecord[]): Promise<void> {
    const nc = await this.#client();
    const mkHeaders = this.#headers!;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const b: InFlight = { waiting: 0, failed: undefined, done };
    const token = ++this.#nextToken;
    const reply = `${this.#inbox}.${token}`;
    this.#byToken.set(token, b);
    const timer = setTimeout(() => this.#fail(b, new Error(`no acknowledgement for ${b.waiting} of ${batch.length} publishes within ${this.#cfg.publishTimeoutMs} ms`)), this.#cfg.publishTimeoutMs);
    try {
      const proto = protocolOf(nc);
      if (proto) {
        // One buffer of HPUB frames for the whole batch (see encodeHpubBatch).
        const max = proto.info?.max_payload ?? Infinity;
        if (proto.info && !proto.info.headers) throw new RetryableSinkError('the server does not support headers (Nats-Msg-Id)');
        const frames = encodeHpubBatch(this.#cfg.subject, reply, batch, max);
        b.waiting = batch.length;
        proto.outMsgs += batch.length;
        proto.outBytes += frames.payloadBytes;
        proto.sendCommand(frames.buf);
      } else {
        for (const r of batch) {
          const h = mkHeaders();
          h.set('Nats-Msg-Id', msgId(r));
          b.waiting++;
          nc.publish(this.#cfg.subject, enc.encode(r.json), { reply, headers: h });
        }
      }
    } catch (err) {
      this.#fail(b, err as Error);
    }
    if (batch.length === 0) done();
    await all;
    clearTimeout(timer);
    this.#byToken.delete(token);
    if (b.failed) throw new RetryableSinkError(`publish: ${b.failed.message}`, undefined, { cause: b.failed });
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#sub = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  extraStats(): Record<string, number> {
    return { jetstream_duplicates: this.counters.duplicates, connects: this.counters.connects };
  }
}

/** The message id of a record: its event uid (the sequence number for an event without one). */
function msgId(r: OutboxRecord): string {
  return r.uid || `seq-${r.seq}`;
}

/** What a publish acknowledgement says (JetStream PubAck: `{"stream","seq","duplicate"?}` or `{"error"}`). */
type PubAck = { error?: { description?: string; code?: number }; duplicate?: boolean };
const OK_ACK: PubAck = {};

/**
 * Reads a PubAck without building an object for the common case: a first publish's
 * acknowledgement is `{"stream":"S", "seq":N}` (nats-server 2.9 writes it with that space), so
 * one that names neither an error nor a duplicate is taken as success unparsed; any other (a
 * de-duplicated re-send, `"duplicate": true`; an error; anything else) is parsed as JSON.
 * undefined: unreadable.
 */
export function readPubAck(data: Uint8Array): PubAck | undefined {
  const s = dec.decode(data);
  if (s.startsWith('{"stream":') && s.endsWith('}') && !s.includes('"error"') && !s.includes('"duplicate"')) return OK_ACK;
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === 'object' && v !== null ? (v as PubAck) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The parts of nats.js's protocol handler that publishing a batch as one buffer needs. nats.js
 * 2.x keeps it on the connection as `protocol`; sendCommand() appends a ready frame to the
 * connection's outbound buffer (written to the socket at once past 32 KiB, queued and sent after a
 * reconnect like any publish). If a later nats.js has no such handler, the sink publishes message
 * by message through the public API instead.
 */
interface NatsProtocol {
  sendCommand(cmd: Uint8Array): void;
  info?: { max_payload?: number; headers?: boolean };
  outMsgs: number;
  outBytes: number;
}

export function protocolOf(nc: NatsConnection): NatsProtocol | undefined {
  const p = (nc as unknown as { protocol?: Partial<NatsProtocol> }).protocol;
  return p && typeof p.sendCommand === 'function' && typeof p.outMsgs === 'number' ? (p as NatsProtocol) : undefined;
}

const HDR_START = 'NATS/1.0\r\nNats-Msg-Id: ';
/** 'NATS/1.0\r\n' + 'Nats-Msg-Id: ' + '\r\n\r\n': the header block's length besides the id. */
const HDR_FIXED_BYTES = 10 + 13 + 4;
/** Lengths of one batch's ids and payloads (reused: batches are encoded one at a time). */
let lens = new Int32Array(2048);

/**
 * A batch as one buffer of NATS client protocol HPUB frames, one per record, each
 * `HPUB <subject> <reply> <#header bytes> <#total bytes>\r\n<headers>\r\n\r\n<payload>\r\n` with
 * the header block `NATS/1.0\r\nNats-Msg-Id: <id>\r\n\r\n` (NATS client protocol, HPUB; the
 * header block follows the NATS/1.0 status line with MIME-style fields, ADR-4). Same bytes as
 * nats.js's publish() with a reply subject and one header, written with one allocation per batch
 * instead of a header object, two encodes and a protocol line per message. The id is trimmed and
 * must not hold CR or LF (nats.js refuses such a header value too); a message larger than the
 * server's max_payload fails the batch as nats.js's publish() does.
 */
export function encodeHpubBatch(subject: string, reply: string, batch: readonly OutboxRecord[], maxPayload = Infinity): { buf: Buffer; payloadBytes: number } {
  if (lens.length < batch.length * 2) lens = new Int32Array(batch.length * 2);
  const head = `HPUB ${subject} ${reply} `;
  const headBytes = Buffer.byteLength(head);
  let total = 0;
  let payloadBytes = 0;
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i]!;
    const id = msgId(r).trim();
    if (/[\r\n]/.test(id)) throw new RetryableSinkError('invalid header value - \\r and \\n are not allowed.');
    const idBytes = Buffer.byteLength(id);
    const jsonBytes = jsonByteLength(r);
    const hlen = HDR_FIXED_BYTES + idBytes;
    const tlen = hlen + jsonBytes;
    if (tlen > maxPayload) throw new RetryableSinkError(`MAX_PAYLOAD_EXCEEDED: message of ${tlen} bytes, the server takes ${maxPayload}`);
    lens[2 * i] = idBytes;
    lens[2 * i + 1] = jsonBytes;
    // protocol line + header block + payload + CRLF
    total += headBytes + decimalDigits(hlen) + 1 + decimalDigits(tlen) + 2 + tlen + 2;
    payloadBytes += tlen;
  }
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i]!;
    const idBytes = lens[2 * i]!;
    const jsonBytes = lens[2 * i + 1]!;
    const hlen = HDR_FIXED_BYTES + idBytes;
    o += buf.write(head, o, 'utf8');
    o += buf.write(`${hlen} ${hlen + jsonBytes}\r\n${HDR_START}`, o, 'latin1');
    o += buf.write(msgId(r).trim(), o, 'utf8');
    o += buf.write('\r\n\r\n', o, 'latin1');
    o += writeJson(r, buf, o);
    o += buf.write('\r\n', o, 'latin1');
  }
  if (o !== total) throw new RetryableSinkError(`HPUB batch encoded to ${o} bytes, ${total} expected`);
  return { buf, payloadBytes };
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

export interface NatsSinkConfig extends SinkCommon {
  servers: string[];
  subject: string;
  token: string;
  user: string;
  password: string;
  tlsCaFile: string;
  publishTimeoutMs: number;
}

const natsSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...sinkCommonProps(1000, 4 * 1024 * 1024, 4),
    servers: { type: 'array', items: { type: 'string' }, default: ['nats://127.0.0.1:4222'], description: 'NATS server URLs (several for a cluster).' },
    subject: { type: 'string', default: 'outpost.events', description: 'Subject published to; a JetStream stream must capture it (its duplicate_window bounds de-duplication by event uid).' },
    token: { type: 'string', default: '', description: 'Authentication token; empty for none.' },
    user: { type: 'string', default: '', description: 'User name; empty for none.' },
    password: { type: 'string', default: '', description: 'Password for user.' },
    tlsCaFile: tlsFileSetting('CA certificate(s) that verify the servers (enables TLS)'),
    publishTimeoutMs: { type: 'integer', minimum: 100, default: 10_000, description: 'Time limit for a publish acknowledgement, in ms.' },
  },
} as const;

export const natsSinkType: SinkType<NatsSinkConfig> = sinkType<NatsSinkConfig>(
  'NATS JetStream sinks: one message per event, message id = event uid.',
  natsSinkSchema,
  (cfg) => new NatsSink(cfg),
);
