/**
 * The sink table: sink type → its settings schema, defaults and factory (a `SinkType`, see
 * src/forward/sink.ts). The `forward` configuration has one array per entry (`forward.https[]`,
 * ...), in this order, built from this table by src/forward/config.ts, and createForwarding()
 * starts one sink per enabled array item through the entry's factory.
 *
 * Adding a sink type: one file in this folder exporting a SinkType (the Sink class, its settings
 * interface and schema), and one line here.
 */
import type { SinkType } from '../sink.js';
import type { SinkCommon } from '../settings.js';
import { httpsSinkType } from './https.js';
import { syslogSinkType } from './syslog.js';
import { natsSinkType } from './nats.js';
import { cloudDiscoveryUploadSinkType } from './cloud-discovery-upload.js';

export const SINK_TYPES = {
  https: httpsSinkType,
  syslog: syslogSinkType,
  nats: natsSinkType,
  cloudDiscoveryUpload: cloudDiscoveryUploadSinkType,
} as const;

export type SinkTypeName = keyof typeof SINK_TYPES;

/** The settings type of one sink type, e.g. SinkConfigOf<'https'> = HttpsSinkConfig. */
export type SinkConfigOf<K extends SinkTypeName> = (typeof SINK_TYPES)[K] extends SinkType<infer C> ? C : never;

/** One array of settings per sink type: the sink part of ForwardConfig. */
export type SinkArrays = { [K in SinkTypeName]: Array<SinkConfigOf<K>> };

/** The table's entries in order, with their names, typed for iteration. */
export function sinkTypeEntries(): Array<[SinkTypeName, SinkType<SinkCommon>]> {
  return Object.entries(SINK_TYPES) as unknown as Array<[SinkTypeName, SinkType<SinkCommon>]>;
}
