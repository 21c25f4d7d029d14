/**
 * The periodic cloud-app summary (the `reports` job) as one OCSF 1.8.0 Base Event (class 0,
 * activity 99 Other). OCSF has no class for aggregated usage: Network Activity is one connection
 * between two endpoints, Device Inventory Info needs the device being inventoried. The period is
 * start_time/end_time, the figures are in `unmapped.discovery_summary` (docs/DISCOVERY.md, "Jobs").
 */
import { randomEventUid } from './event-uid.js';
import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata } from './ocsf.js';

export interface DiscoverySummaryEvent extends OcsfEventBase {
  class_uid: 0;
  metadata: OcsfMetadata & { uid: string; log_name: string };
  start_time: number;
  end_time: number;
  duration: number;
  message: string;
  unmapped: { discovery_summary: Record<string, unknown> };
}

export function buildDiscoverySummary(timeMs: number, fromMs: number, toMs: number, message: string, summary: Record<string, unknown>): DiscoverySummaryEvent {
  return {
    activity_id: 99, activity_name: 'Other', category_uid: 0, category_name: 'Uncategorized', class_uid: 0, class_name: 'Base Event',
    type_uid: 99, type_name: 'Base Event: Other', severity_id: 1, severity: 'Informational',
    time: timeMs, start_time: fromMs, end_time: toMs, duration: toMs - fromMs,
    message,
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid(), log_name: 'discovery_summary' },
    unmapped: { discovery_summary: summary },
  };
}
