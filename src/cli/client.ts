// The CLI's side of tapwired's REST API (/work/shared/API.md): one method per call, each resolving with the
// server's JSON as the contract types it (trusted, not re-validated: the server owns the schemas) or rejecting
// with a CliError. Over the unix socket no token is sent (file permissions guard it); over TCP every request
// carries `Authorization: Bearer <token>`, and the token appears in no message.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
// The resources are the server's own types (types only: the CLI loads no daemon code), so the CLI keeps no
// copy of any shape; the counters travel as the data plane defines them.
import type {
  BridgeCreate,
  BridgePatch,
  BridgeStatus,
  FdbEntry,
  Flushed,
  Health,
  LinkCreate,
  LinkStatus,
  Neighbor,
  PortCreate,
  PortStatus,
  RouteCreate,
  RouteStatus,
  RouterInterfaceCreate,
  RouterInterfaceStatus,
  RouterStatus,
} from '../daemon/resources.js';
import type { BridgeCounters, PortCounters } from '../dataplane/counters.js';
import type { RouterCounters } from '../router/stats.js';

export type { BridgeCounters, FdbEntry, Flushed, Health, Neighbor, PortCounters, RouterCounters };

/** Target says where tapwired listens: its unix socket, or a TCP base URL with the API's bearer token. */
export type Target = { socketPath: string } | { url: string; token: string };

/** Bridge is a learning bridge as the API shows it. */
export type Bridge = BridgeStatus;

/** NewBridge is the body of `POST /v1/bridges`; absent fields take the server's defaults. */
export type NewBridge = BridgeCreate;

/** BridgeChanges is the body of `PATCH /v1/bridges/{bridge}`. */
export type BridgeChanges = BridgePatch;

/** Port is a bridge port as the API shows it; kinds other than `tap` add fields of their own. */
export type Port = PortStatus;

/** NewPort is the body of `POST /v1/bridges/{bridge}/ports`; `kind` and `mode` are passed through as given,
 * for the server to judge. */
export type NewPort = Omit<PortCreate, 'kind' | 'mode'> & { kind: string; mode?: string };

/** Link is a routed link (a TUN device) as the API shows it. */
export type Link = LinkStatus;

/** NewLink is the body of `POST /v1/links`. */
export type NewLink = LinkCreate;

/** RouterInterface is one of the router's interfaces, on a bridge or on a link. */
export type RouterInterface = RouterInterfaceStatus;

/** NewRouterInterface is the body of `POST /v1/router/interfaces`. */
export type NewRouterInterface = RouterInterfaceCreate;

/** Route is a route of the router's table. */
export type Route = RouteStatus;

/** NewRoute is the body of `POST /v1/routes`. */
export type NewRoute = RouteCreate;

/** RouterSummary is the answer of `GET /v1/router`. */
export type RouterSummary = RouterStatus;

/** CliError is a failed call: the problem's `detail` and `code` when tapwired answered, else what went wrong. */
export class CliError extends Error {
  constructor(
    readonly detail: string,
    readonly code?: string,
    readonly status?: number,
  ) {
    super(code === undefined ? detail : `${detail} (${code})`);
    this.name = 'CliError';
  }
}

/** REQUEST_TIMEOUT_MS bounds each call, so a stuck daemon cannot hang a script. */
export const REQUEST_TIMEOUT_MS = 30_000;

// Why a connection failed, in the words a user can act on.
const HINTS: Record<string, string> = {
  ENOENT: 'no such socket; is tapwired running?',
  ECONNREFUSED: 'connection refused; is tapwired running?',
  EACCES: "permission denied; run as root or as a member of the socket's group",
};

// seg encodes one path segment. ':' is legal in a segment (RFC 3986 pchar) and is kept so MACs stay readable.
function seg(s: string): string {
  return encodeURIComponent(s).replaceAll('%3A', ':');
}

/** TapwireClient calls tapwired's REST API at one Target. */
export class TapwireClient {
  constructor(
    readonly target: Target,
    readonly timeoutMs: number = REQUEST_TIMEOUT_MS,
  ) {}

  /** where names the target for messages: the socket path or the URL. */
  get where(): string {
    return 'socketPath' in this.target ? `unix socket ${this.target.socketPath}` : this.target.url;
  }

  /** health asks whether tapwired answers, and its version. */
  health(): Promise<Health> {
    return this.call('GET', '/v1/health');
  }

  /** listBridges lists every bridge. */
  listBridges(): Promise<Bridge[]> {
    return this.call('GET', '/v1/bridges');
  }

  /** addBridge creates a bridge. */
  addBridge(spec: NewBridge): Promise<Bridge> {
    return this.call('POST', '/v1/bridges', spec);
  }

  /** getBridge fetches one bridge. */
  getBridge(bridge: string): Promise<Bridge> {
    return this.call('GET', `/v1/bridges/${seg(bridge)}`);
  }

  /** setBridge changes a bridge's aging time or FDB size cap. */
  setBridge(bridge: string, changes: BridgeChanges): Promise<Bridge> {
    return this.call('PATCH', `/v1/bridges/${seg(bridge)}`, changes);
  }

  /** removeBridge deletes a bridge; with `force`, its ports too (else a bridge with ports is refused). */
  async removeBridge(bridge: string, force = false): Promise<void> {
    await this.call('DELETE', `/v1/bridges/${seg(bridge)}${force ? '?force=true' : ''}`);
  }

  /** listPorts lists the ports of a bridge. */
  listPorts(bridge: string): Promise<Port[]> {
    return this.call('GET', `/v1/bridges/${seg(bridge)}/ports`);
  }

  /** addPort creates a port on a bridge. */
  addPort(bridge: string, spec: NewPort): Promise<Port> {
    return this.call('POST', `/v1/bridges/${seg(bridge)}/ports`, spec);
  }

  /** getPort fetches one port with its state and counters. */
  getPort(bridge: string, port: string): Promise<Port> {
    return this.call('GET', `/v1/bridges/${seg(bridge)}/ports/${seg(port)}`);
  }

  /** removePort deletes a port (its device goes with it). */
  async removePort(bridge: string, port: string): Promise<void> {
    await this.call('DELETE', `/v1/bridges/${seg(bridge)}/ports/${seg(port)}`);
  }

  /** listFdb lists a bridge's forwarding database. */
  listFdb(bridge: string): Promise<FdbEntry[]> {
    return this.call('GET', `/v1/bridges/${seg(bridge)}/fdb`);
  }

  /** addFdb adds a static entry: frames for `mac` go to `port`. */
  addFdb(bridge: string, mac: string, port: string): Promise<FdbEntry> {
    return this.call('POST', `/v1/bridges/${seg(bridge)}/fdb`, { mac, port });
  }

  /** removeFdb deletes the entry of one MAC. */
  async removeFdb(bridge: string, mac: string): Promise<void> {
    await this.call('DELETE', `/v1/bridges/${seg(bridge)}/fdb/${seg(mac)}`);
  }

  /** flushFdb deletes every learned entry of a bridge (static ones stay). */
  flushFdb(bridge: string): Promise<Flushed> {
    return this.call('DELETE', `/v1/bridges/${seg(bridge)}/fdb`);
  }

  /** router sums up the router: interface and route counts, counters. */
  router(): Promise<RouterSummary> {
    return this.call('GET', '/v1/router');
  }

  /** listLinks lists the links. */
  listLinks(): Promise<Link[]> {
    return this.call('GET', '/v1/links');
  }

  /** addLink creates a link. */
  addLink(spec: NewLink): Promise<Link> {
    return this.call('POST', '/v1/links', spec);
  }

  /** getLink fetches one link with its state and counters. */
  getLink(link: string): Promise<Link> {
    return this.call('GET', `/v1/links/${seg(link)}`);
  }

  /** removeLink deletes a link (its device goes with it). */
  async removeLink(link: string): Promise<void> {
    await this.call('DELETE', `/v1/links/${seg(link)}`);
  }

  /** listRouterInterfaces lists the router's interfaces. */
  listRouterInterfaces(): Promise<RouterInterface[]> {
    return this.call('GET', '/v1/router/interfaces');
  }

  /** addRouterInterface creates a router interface on a bridge or a link. */
  addRouterInterface(spec: NewRouterInterface): Promise<RouterInterface> {
    return this.call('POST', '/v1/router/interfaces', spec);
  }

  /** getRouterInterface fetches one router interface. */
  getRouterInterface(name: string): Promise<RouterInterface> {
    return this.call('GET', `/v1/router/interfaces/${seg(name)}`);
  }

  /** removeRouterInterface deletes a router interface. */
  async removeRouterInterface(name: string): Promise<void> {
    await this.call('DELETE', `/v1/router/interfaces/${seg(name)}`);
  }

  /** listRoutes lists the router's routes, connected and static. */
  listRoutes(): Promise<Route[]> {
    return this.call('GET', '/v1/routes');
  }

  /** addRoute adds a static route. */
  addRoute(spec: NewRoute): Promise<Route> {
    return this.call('POST', '/v1/routes', spec);
  }

  /** removeRoute deletes the static route of `prefix`. */
  async removeRoute(prefix: string): Promise<void> {
    await this.call('DELETE', `/v1/routes?prefix=${encodeURIComponent(prefix)}`);
  }

  /** listNeighbors lists the router's ARP/NDP cache. */
  listNeighbors(): Promise<Neighbor[]> {
    return this.call('GET', '/v1/neighbors');
  }

  // call sends one request and resolves with the parsed JSON body (undefined for an empty one, as with 204).
  // A body is sent, with its content-type, only when there is one: fastify refuses an empty JSON body.
  private call<T>(method: string, path: string, body?: object): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (!('socketPath' in this.target)) headers.authorization = `Bearer ${this.target.token}`;
    const answered = new Promise<{ res: IncomingMessage; text: string }>((resolve, reject) => {
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ res, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      };
      const req = this.open(method, path, headers, onResponse);
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs / 1000}s`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', reject);
      req.end(payload);
    });
    return answered.then(
      ({ res, text }) => this.answer<T>(res, text),
      (e: unknown) => {
        const err = e as NodeJS.ErrnoException;
        const why = (err.code !== undefined ? HINTS[err.code] : undefined) ?? err.message;
        throw new CliError(`cannot reach tapwired at ${this.where}: ${why}`);
      },
    );
  }

  // open starts a request to the target; a URL's own path (a reverse proxy's prefix) goes before `path`.
  private open(method: string, path: string, headers: Record<string, string>, onResponse: (res: IncomingMessage) => void): ClientRequest {
    if ('socketPath' in this.target) {
      const options: RequestOptions = { socketPath: this.target.socketPath, method, path, headers };
      return httpRequest(options, onResponse);
    }
    const base = new URL(this.target.url);
    const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
    return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers }, onResponse);
  }

  // answer turns a response into the call's result, or a problem+json (or any other error answer) into a CliError.
  private answer<T>(res: IncomingMessage, text: string): T {
    const status = res.statusCode ?? 0;
    let json: unknown;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        if (status >= 200 && status < 300) throw new CliError(`tapwired at ${this.where} answered HTTP ${status} with a body that is not JSON`);
      }
    }
    if (status >= 200 && status < 300) return json as T;
    // A problem has `detail` and `code`; fastify's own errors (`message`, `code`) are read the same way.
    const problem = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    const detail = str(problem.detail) ?? str(problem.message) ?? str(problem.title) ?? `HTTP ${status} ${res.statusMessage ?? ''}`.trim();
    throw new CliError(detail, str(problem.code), status);
  }
}
