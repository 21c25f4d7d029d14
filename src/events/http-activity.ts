/**
 * OCSF 1.8.0 HTTP Activity (class_uid 4002, category 4 Network Activity) from one parsed request.
 *
 * activity_id follows the method (events/network/http_activity.json): Connect 1, Delete 2,
 * Get 3, Head 4, Options 5, Post 6, Put 7, Trace 8, Patch 9; any other method is 99 Other with
 * the method as activity_name. type_uid = 400200 + activity_id.
 *
 * url: hostname/port from the request (Host, absolute-form authority, or CONNECT target). The
 * query string is not kept by the parser, so url_string is scheme://host[:port]path without it.
 * For CONNECT the url is the authority only (no scheme, no path). When the request named no
 * host (HTTP/1.0 without Host), url_string uses the destination address instead and hostname
 * is omitted.
 */
import { randomEventUid } from './event-uid.js';
import type { HttpRequestInfo } from '../protocols/http/request.js';
import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata } from './ocsf.js';

const ACTIVITY: Record<string, [number, string]> = {
  CONNECT: [1, 'Connect'],
  DELETE: [2, 'Delete'],
  GET: [3, 'Get'],
  HEAD: [4, 'Head'],
  OPTIONS: [5, 'Options'],
  POST: [6, 'Post'],
  PUT: [7, 'Put'],
  TRACE: [8, 'Trace'],
  PATCH: [9, 'Patch'],
};

export interface HttpEndpoint {
  ip: string;
  port?: number;
}

export interface HttpUrl {
  hostname?: string;
  path?: string;
  port?: number;
  scheme?: string;
  url_string: string;
}

export interface HttpActivityEvent extends OcsfEventBase {
  activity_id: number;
  activity_name: string;
  category_uid: 4;
  category_name: 'Network Activity';
  class_uid: 4002;
  class_name: 'HTTP Activity';
  type_uid: number;
  type_name: string;
  severity_id: 1;
  severity: 'Informational';
  time: number;
  app_protocol_name: 'http';
  metadata: OcsfMetadata & { uid: string };
  src_endpoint: HttpEndpoint;
  dst_endpoint: HttpEndpoint;
  http_request: { http_method: string; url: HttpUrl; user_agent?: string; version: string };
  http_response?: { code: number };
  /** The flow that carried the request: its uid (its Network Activity events' uid), protocol and direction. */
  connection_info?: HttpConnectionInfo;
}

/** What an HTTP event takes from its flow's connection_info (not the flow's TCP flags). */
export interface HttpConnectionInfo {
  uid: string;
  protocol_num: number;
  protocol_name: string;
  protocol_ver_id?: number;
  direction_id: number;
  direction: string;
}

/** What the builder reads: a parsed request, optionally with the response's status code. */
export type HttpRequestLike = Pick<
  HttpRequestInfo,
  'method' | 'targetForm' | 'scheme' | 'host' | 'port' | 'path' | 'userAgent' | 'versionMinor'
> & { statusCode?: number | undefined };

function endpoint(e: HttpEndpoint): HttpEndpoint {
  return e.port === undefined ? { ip: e.ip } : { ip: e.ip, port: e.port };
}

/** IPv6 literals get their brackets back in a URL (RFC 3986 §3.2.2). */
function urlHost(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}

/**
 * Builds the event. `src` is the client, `dst` the server (plain values from the caller);
 * `timeMs` is epoch milliseconds; `flow` is the carrying flow's connection_info.
 */
export function buildHttpActivity(
  req: HttpRequestLike,
  src: HttpEndpoint,
  dst: HttpEndpoint,
  timeMs: number,
  flow?: HttpConnectionInfo,
): HttpActivityEvent {
  const [activityId, activityName] = ACTIVITY[req.method] ?? [99, req.method || 'Other'];
  const url: HttpUrl = { url_string: '' };
  if (req.targetForm === 'authority') {
    // CONNECT host:port (RFC 9112 §3.2.3).
    if (req.host !== undefined) url.hostname = req.host;
    if (req.port !== undefined) url.port = req.port;
    url.url_string = `${urlHost(req.host ?? dst.ip)}:${req.port ?? dst.port ?? ''}`;
  } else {
    const scheme = req.scheme ?? 'http';
    url.scheme = scheme;
    const path = req.path ?? '/';
    url.path = path;
    let authority: string;
    if (req.host !== undefined) {
      url.hostname = req.host;
      if (req.port !== undefined) url.port = req.port;
      else if (req.targetForm !== 'absolute' && dst.port !== undefined) url.port = dst.port;
      authority = req.port === undefined ? urlHost(req.host) : `${urlHost(req.host)}:${req.port}`;
    } else {
      if (dst.port !== undefined) url.port = dst.port;
      authority = dst.port === undefined || dst.port === 80 ? urlHost(dst.ip) : `${urlHost(dst.ip)}:${dst.port}`;
    }
    url.url_string = path === '*' ? `${scheme}://${authority}` : `${scheme}://${authority}${path}`;
  }
  const httpRequest: HttpActivityEvent['http_request'] = {
    http_method: req.method,
    url,
    version: `HTTP/1.${req.versionMinor}`,
  };
  if (req.userAgent !== undefined) httpRequest.user_agent = req.userAgent;
  const ev: HttpActivityEvent = {
    activity_id: activityId,
    activity_name: activityName,
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4002,
    class_name: 'HTTP Activity',
    type_uid: 400200 + activityId,
    type_name: `HTTP Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time: timeMs,
    app_protocol_name: 'http',
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid() },
    src_endpoint: endpoint(src),
    dst_endpoint: endpoint(dst),
    http_request: httpRequest,
  };
  if (req.statusCode !== undefined) ev.http_response = { code: req.statusCode };
  if (flow !== undefined) {
    ev.connection_info = {
      uid: flow.uid, protocol_num: flow.protocol_num, protocol_name: flow.protocol_name,
      ...(flow.protocol_ver_id !== undefined ? { protocol_ver_id: flow.protocol_ver_id } : {}),
      direction_id: flow.direction_id, direction: flow.direction,
    };
  }
  return ev;
}
