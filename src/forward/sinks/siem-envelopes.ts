/**
 * Bodies and responses of the SIEM envelopes of the HTTPS sink (`format`):
 *
 * - `splunk-hec`: Splunk HTTP Event Collector event envelopes ("Format events for HTTP Event
 *   Collector", https://docs.splunk.com/Documentation/Splunk/latest/Data/FormateventsforHTTPEventCollector):
 *   one JSON object per event, concatenated, `{"time": <epoch seconds>, "source", "sourcetype",
 *   ["index",] "event": <the OCSF event>}`; the response `{"text":"Success","code":0}` carries an
 *   `ackId` when the token has indexer acknowledgement
 *   (https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/about-http-event-collector-indexer-acknowledgment).
 * - `elastic-bulk`: Elasticsearch / OpenSearch `_bulk` (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html):
 *   NDJSON of an action line `{"create":{"_index":...,"_id":<event uid>}}` then the document,
 *   each line ending with a newline; the response has `errors` and one `items[]` entry per
 *   action, in order, with its own `status` and `error`.
 */
import type { OutboxRecord } from '../outbox.js';

export const SIEM_FORMATS = ['splunk-hec', 'elastic-bulk'] as const;

export interface SiemEnvelope {
  sourcetype?: string;
  index?: string;
  elasticIndex?: string;
}

/** The event's `time` (ms), read off the stored JSON; undefined when absent or not JSON. */
function eventTimeMs(json: string): number | undefined {
  try {
    const t = (JSON.parse(json) as { time?: unknown }).time;
    return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** HEC event envelopes: `time` in seconds with milliseconds (HEC: "epoch time ... seconds"), the event as stored. */
export function splunkHecBody(batch: readonly OutboxRecord[], e: SiemEnvelope): string {
  const fixed = `"source":"outpost","sourcetype":${JSON.stringify(e.sourcetype ?? 'ocsf')}${e.index ? `,"index":${JSON.stringify(e.index)}` : ''}`;
  let s = '';
  for (const r of batch) {
    const t = eventTimeMs(r.json) ?? r.appendedMs;
    // A stored line that is not a JSON object still goes as an event: a string.
    const ev = r.json.startsWith('{') ? r.json : JSON.stringify(r.json);
    s += `{"time":${(t / 1000).toFixed(3)},${fixed},"event":${ev}}\n`;
  }
  return s;
}

/** The ackId(s) of a HEC response (`{"text":"Success","code":0,"ackId":7}`), undefined when none. */
export function splunkAckIds(text: string): number[] | undefined {
  try {
    const id = (JSON.parse(text) as { ackId?: unknown }).ackId;
    return typeof id === 'number' ? [id] : undefined;
  } catch {
    return undefined;
  }
}

/** `_bulk` body: `create` with `_id` = the event uid, so a batch sent again indexes nothing twice. */
export function elasticBulkBody(batch: readonly OutboxRecord[], e: SiemEnvelope): string {
  const index = JSON.stringify(e.elasticIndex ?? 'outpost-ocsf');
  let s = '';
  for (const r of batch) {
    const doc = r.json.startsWith('{') ? r.json : JSON.stringify({ unparsable: r.json });
    s += `{"create":{"_index":${index},"_id":${JSON.stringify(r.uid)}}}\n${doc}\n`;
  }
  return s;
}

export interface BulkOutcome {
  rejected: Array<{ index: number; status: number | null; reason: string }>;
  /** Items whose status asks for a retry (429, 5xx). */
  retry: number;
  retryReason: string;
  /** 409 on create: already indexed. */
  duplicates: number;
}

/** Reads a `_bulk` response; undefined when it is not one (no items array of the batch's length when errors is true). */
export function elasticBulkOutcome(text: string, events: number): BulkOutcome | undefined {
  let j: { errors?: unknown; items?: unknown };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    return undefined;
  }
  if (j === null || typeof j !== 'object') return undefined;
  const out: BulkOutcome = { rejected: [], retry: 0, retryReason: '', duplicates: 0 };
  if (j.errors === false) return out;
  if (!Array.isArray(j.items) || j.items.length !== events) return undefined;
  j.items.forEach((item: unknown, i) => {
    const op = item !== null && typeof item === 'object' ? (Object.values(item)[0] as { status?: unknown; error?: { type?: unknown; reason?: unknown } } | undefined) : undefined;
    const status = typeof op?.status === 'number' ? op.status : null;
    if (status !== null && status >= 200 && status < 300) return;
    if (status === 409) { out.duplicates++; return; }
    const reason = `${String(op?.error?.type ?? 'error')}: ${String(op?.error?.reason ?? '')}`.slice(0, 300);
    if (status === null || status === 429 || status >= 500) {
      out.retry++;
      if (out.retryReason === '') out.retryReason = `HTTP ${status ?? '?'} ${reason}`;
      return;
    }
    out.rejected.push({ index: i, status, reason: `HTTP ${status} ${reason}` });
  });
  return out;
}
