import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidDeviceId } from '../../protocol/topics.js';
import type { ServiceMetrics } from './metrics.js';
import type { ReadingsStore } from './readings-store.js';

export interface HttpApiDeps {
  store: ReadingsStore;
  metrics: ServiceMetrics;
  isReady: () => boolean;
}

const MAX_LIMIT = 1000;

class BadRequest extends Error {}

/** GET-only HTTP API: health, readiness, Prometheus metrics, devices and readings as JSON. */
export class HttpApi {
  private readonly server: Server;

  constructor(private readonly deps: HttpApiDeps) {
    this.server = createServer((req, res) => this.route(req, res));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return send(res, 405, { error: 'only GET is served' });
    try {
      switch (url.pathname) {
        case '/healthz':
          return send(res, 200, { status: 'ok' });
        case '/readyz':
          return this.deps.isReady() ? send(res, 200, { status: 'ready' }) : send(res, 503, { status: 'not ready' });
        case '/metrics':
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          return void res.end(this.deps.metrics.render());
        case '/api/devices':
          return send(res, 200, { devices: this.deps.store.devices() });
        case '/api/readings':
          return send(res, 200, { readings: this.deps.store.readings(readingQuery(url.searchParams)) });
        default:
          return send(res, 404, { error: 'not found' });
      }
    } catch (error) {
      if (error instanceof BadRequest) return send(res, 400, { error: error.message });
      return send(res, 500, { error: 'internal error' });
    }
  }
}

function readingQuery(params: URLSearchParams) {
  const device = params.get('device') ?? undefined;
  if (device !== undefined && !isValidDeviceId(device)) throw new BadRequest('device must be a valid device id');
  const sinceRaw = params.get('since');
  let since: number | undefined;
  if (sinceRaw !== null) {
    since = /^\d+$/.test(sinceRaw) ? Number(sinceRaw) : Date.parse(sinceRaw);
    if (!Number.isFinite(since)) throw new BadRequest('since must be epoch milliseconds or an ISO-8601 time');
  }
  const limitRaw = params.get('limit') ?? '100';
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be an integer in 1..${MAX_LIMIT}`);
  return { ...(device !== undefined ? { deviceId: device } : {}), ...(since !== undefined ? { since } : {}), limit };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
