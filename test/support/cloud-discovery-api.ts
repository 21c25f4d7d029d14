/**
 * A local stand-in for Defender for Cloud Apps' log-upload API, written from its documentation
 * (https://learn.microsoft.com/en-us/defender-cloud-apps/api-discovery-initiate, -perform,
 * -finalize), over HTTPS:
 *
 *   GET  /api/v1/discovery/upload_url/?filename=&source=   Authorization: Token <t>  → { url, provider }
 *   PUT  <url>                                             x-ms-blob-type: BlockBlob (provider azure)
 *   POST /api/v1/discovery/done_upload/                    Authorization: Token <t>, JSON { uploadUrl, inputStreamName[, uploadAsSnapshot] }
 *
 * It refuses what the documentation does not allow (wrong token 401, unknown source 400, PUT
 * without the blob type 400, PUT to a URL it did not hand out 404, finalize of a URL with no
 * upload 400), keeps the finalized files, and lets a test fail the next request of a step or
 * run a hook (a kill -9 of the client) when a step's request arrives.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Pki } from './receivers.js';

export type UploadStep = 'initiate' | 'upload' | 'finalize';
export const SOURCES = new Set(['GENERIC_CEF', 'GENERIC_W3C', 'GENERIC_CEF_SYSLOG', 'GENERIC_W3C_SYSLOG']);

export interface FinalizedFile {
  filename: string;
  source: string;
  inputStreamName: string;
  snapshot: boolean;
  text: string;
}

interface Blob {
  filename: string;
  source: string;
  text: string | undefined;
  finalized: boolean;
}

export class CloudDiscoveryApi {
  readonly server: Server;
  token = 'secret-token';
  readonly finalized: FinalizedFile[] = [];
  readonly requests: Record<UploadStep, number> = { initiate: 0, upload: 0, finalize: 0 };
  /** Failures to inject: the next requests of a step get this status (or 'reset': the connection is destroyed). */
  readonly fail: Record<UploadStep, Array<number | 'reset'>> = { initiate: [], upload: [], finalize: [] };
  /** Called when a step's request arrives (after it was processed for upload/finalize, before the reply); returning true withholds the reply. */
  onStep: ((step: UploadStep, n: number) => boolean | void) | undefined;
  readonly #blobs = new Map<string, Blob>();
  #next = 0;
  port = 0;

  constructor(pki: Pki) {
    this.server = createServer({ cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.#handle(req, res, Buffer.concat(chunks)));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get apiUrl(): string {
    return `https://localhost:${this.port}/`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  #reply(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #injected(step: UploadStep, res: ServerResponse): boolean {
    const f = this.fail[step].shift();
    if (f === undefined) return false;
    if (f === 'reset') res.socket?.destroy();
    else this.#reply(res, f, { error: 'injected failure' });
    return true;
  }

  #handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', `https://localhost:${this.port}`);
    const authOk = req.headers['authorization'] === `Token ${this.token}`;
    if (req.method === 'GET' && url.pathname === '/api/v1/discovery/upload_url/') {
      const n = ++this.requests.initiate;
      if (this.onStep?.('initiate', n) === true) return;
      if (this.#injected('initiate', res)) return;
      if (!authOk) return this.#reply(res, 401, { detail: 'Invalid token' });
      const filename = url.searchParams.get('filename') ?? '';
      const source = url.searchParams.get('source') ?? '';
      if (filename === '' || !SOURCES.has(source)) return this.#reply(res, 400, { detail: 'filename and a supported source are required' });
      const id = `b${++this.#next}`;
      this.#blobs.set(id, { filename, source, text: undefined, finalized: false });
      return this.#reply(res, 200, { url: `https://localhost:${this.port}/blob/${id}?sv=2020-08-04&sig=abc`, provider: 'azure' });
    }
    if (req.method === 'PUT' && url.pathname.startsWith('/blob/')) {
      const n = ++this.requests.upload;
      if (this.#injected('upload', res)) return;
      const blob = this.#blobs.get(url.pathname.slice('/blob/'.length));
      if (!blob || url.searchParams.get('sig') !== 'abc') return this.#reply(res, 404, { detail: 'no such upload url' });
      if (req.headers['x-ms-blob-type'] !== 'BlockBlob') return this.#reply(res, 400, { detail: 'x-ms-blob-type: BlockBlob required' });
      if (blob.finalized) return this.#reply(res, 409, { detail: 'already finalized' });
      blob.text = body.toString('utf8');
      if (this.onStep?.('upload', n) === true) return;
      return this.#reply(res, 201, '');
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/discovery/done_upload/') {
      const n = ++this.requests.finalize;
      if (this.#injected('finalize', res)) return;
      if (!authOk) return this.#reply(res, 401, { detail: 'Invalid token' });
      let j: { uploadUrl?: string; inputStreamName?: string; uploadAsSnapshot?: boolean };
      try {
        j = JSON.parse(body.toString('utf8')) as typeof j;
      } catch {
        return this.#reply(res, 400, { detail: 'JSON body expected' });
      }
      const id = j.uploadUrl ? new URL(j.uploadUrl).pathname.slice('/blob/'.length) : '';
      const blob = this.#blobs.get(id);
      if (!blob || blob.text === undefined) return this.#reply(res, 400, { detail: 'nothing uploaded to uploadUrl' });
      if (!j.inputStreamName) return this.#reply(res, 400, { detail: 'inputStreamName required' });
      if (!blob.finalized) {
        blob.finalized = true;
        this.finalized.push({ filename: blob.filename, source: blob.source, inputStreamName: j.inputStreamName, snapshot: j.uploadAsSnapshot === true, text: blob.text });
      }
      if (this.onStep?.('finalize', n) === true) return;
      return this.#reply(res, 200, { success: true });
    }
    this.#reply(res, 404, { detail: 'not found' });
  }

  /** Every line of the finalized files (W3C directives left out). */
  lines(): string[] {
    return this.finalized.flatMap((f) => f.text.split('\n').filter((l) => l !== '' && !l.startsWith('#')));
  }
}
