import type { OutpostConfig } from '../config/index.js';
import type { FlowSettings } from './flow-table.js';

/** The flow-table settings of a validated configuration. */
export function flowSettingsFromConfig(cfg: OutpostConfig): FlowSettings {
  return {
    maxFlows: cfg.flows.maxFlows,
    flowIdleTimeoutMs: { ...cfg.flows.flowIdleTimeoutMs },
    tcpClosedTimeoutMs: cfg.flows.tcpClosedTimeoutMs,
    flowActiveTimeoutMs: cfg.flows.flowActiveTimeoutMs,
    emitOpenEvents: cfg.flows.emitOpenEvents,
  };
}
