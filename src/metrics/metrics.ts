// Metrics: tapwire's Prometheus exposition. The data plane's counters are absolute values kept in shared
// memory, so they are not mirrored here with inc(): each scrape reads one snapshot of the daemon's bridges,
// ports, links, router interfaces and router (one call of each, shared by every collector of that scrape),
// clears the per-bridge and per-port series and sets them again. Links (kind="tun", bridge="") and the
// router's ports on bridges (kind="router") are counted in the per-port series like ports. A removed port or bridge therefore leaves the
// output at the next scrape instead of lingering with its last value. Each Metrics owns its registry
// (never prom-client's global one), so several can live in one process (tests, embedders).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BridgeStatus, LinkStatus, PortStatus, RouterInterfaceStatus, RouterStatus } from '../daemon/resources.js';
import type { BridgeCounters, PortCounters } from '../dataplane/counters.js';
import { DROP_REASONS } from '../ports/drop-reason.js';
import { ICMP_SENT, ROUTER_DROP_REASONS, ROUTER_FIELDS } from '../router/stats.js';
import { VERSION } from '../version.js';

/** MetricsSource is what Metrics reads at scrape time; `Daemon` satisfies it. The router's parts are read
 * when the source has them. */
export interface MetricsSource {
  bridges(): Promise<BridgeStatus[]>;
  ports(): Promise<PortStatus[]>;
  links?(): Promise<LinkStatus[]>;
  routerInterfaces?(): Promise<RouterInterfaceStatus[]>;
  router?(): Promise<RouterStatus>;
}

/** UNMATCHED_ROUTE is the `route` label of requests that matched no route (never the raw URL). */
export const UNMATCHED_ROUTE = 'unmatched';

/** API_DURATION_BUCKETS are the histogram buckets (seconds) of API requests: local calls are fast. */
export const API_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** LINT_FAILING_DEFAULTS are the default metrics of prom-client left out (gauges named like counters). */
export const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

type PortField = Exclude<keyof PortCounters, 'drops'>;
type BridgeField = Exclude<keyof BridgeCounters, 'fdbEntries'>;

// One row per monotonic port counter: metric name, counter field, help text.
const PORT_COUNTERS: ReadonlyArray<readonly [string, PortField, string]> = [
  ['tapwire_port_rx_frames_total', 'rxFrames', 'Frames read from the port, dropped ones included (a GSO frame counts once).'],
  ['tapwire_port_rx_bytes_total', 'rxBytes', 'Bytes of the frames received from the port, without the virtio-net header.'],
  ['tapwire_port_tx_frames_total', 'txFrames', 'Frames sent out of the port (a GSO frame counts once).'],
  ['tapwire_port_tx_bytes_total', 'txBytes', 'Bytes of the frames sent out of the port, without the virtio-net header.'],
  ['tapwire_port_rx_gso_frames_total', 'rxGsoFrames', 'Received frames that carried a GSO request (up to 64 KiB each).'],
  ['tapwire_port_tx_gso_frames_total', 'txGsoFrames', 'Sent frames that carried a GSO request (up to 64 KiB each).'],
  ['tapwire_port_rx_batches_total', 'rxBatches', 'Wake-ups that read frames from the port; rx_frames / rx_batches is the mean batch size.'],
];

// One row per monotonic bridge counter.
const BRIDGE_COUNTERS: ReadonlyArray<readonly [string, BridgeField, string]> = [
  ['tapwire_bridge_fdb_learned_total', 'fdbLearned', 'MAC addresses learned into the forwarding database.'],
  ['tapwire_bridge_fdb_moved_total', 'fdbMoved', 'Learned MAC addresses that moved to another port.'],
  ['tapwire_bridge_fdb_expired_total', 'fdbExpired', 'Forwarding database entries removed by aging.'],
  ['tapwire_bridge_fdb_evicted_total', 'fdbEvicted', 'Forwarding database entries evicted because the table was full.'],
  ['tapwire_bridge_floods_total', 'floods', 'Frames flooded to every other port (unknown unicast, broadcast, multicast).'],
];

type RouterField = (typeof ROUTER_FIELDS)[number];

// The router's counters and gauges: metric name, help, its label (if any), and per label value the field.
const ROUTER_COUNTERS: ReadonlyArray<readonly [string, string, string | undefined, ReadonlyArray<readonly [string, RouterField]>]> = [
  [
    'tapwire_router_forwarded_total',
    'Packets the router forwarded, by IP family (a GSO packet counts once).',
    'family',
    [
      ['4', 'forwarded4'],
      ['6', 'forwarded6'],
    ],
  ],
  [
    'tapwire_router_delivered_total',
    'Packets addressed to the router itself that it handled (echo requests), by IP family.',
    'family',
    [
      ['4', 'delivered4'],
      ['6', 'delivered6'],
    ],
  ],
  ['tapwire_router_fragments_created_total', 'IPv4 fragments the router made for packets without DF larger than the egress MTU.', undefined, [['', 'fragmentsCreated']]],
  [
    'tapwire_router_arp_packets_total',
    'ARP packets the router received and sent.',
    'direction',
    [
      ['received', 'arpReceived'],
      ['sent', 'arpSent'],
    ],
  ],
  [
    'tapwire_router_ndp_packets_total',
    'NDP messages the router received and sent (router advertisements included).',
    'direction',
    [
      ['received', 'ndpReceived'],
      ['sent', 'ndpSent'],
    ],
  ],
  ['tapwire_router_ra_sent_total', 'IPv6 router advertisements the router sent.', undefined, [['', 'raSent']]],
  ['tapwire_router_icmp_rate_limited_total', 'ICMP errors the router did not send because its rate limit was reached.', undefined, [['', 'icmpRateLimited']]],
];
const ROUTER_GAUGES: ReadonlyArray<readonly [string, string, string | undefined, ReadonlyArray<readonly [string, RouterField]>]> = [
  ['tapwire_router_neighbors', "Entries in the router's ARP/NDP cache now.", undefined, [['', 'neighborEntries']]],
  [
    'tapwire_router_routes',
    "Routes in the router's table now (connected and static), by IP family.",
    'family',
    [
      ['4', 'routes4'],
      ['6', 'routes6'],
    ],
  ],
];

const PORT_LABELS = ['bridge', 'port', 'kind'] as const;
type PortLabels = Record<(typeof PORT_LABELS)[number], string>;

/** PortRow is one series set of the per-port metrics: a port, a link or a router port on a bridge. */
interface PortRow {
  labels: PortLabels;
  state: PortStatus['state'];
  counters: PortCounters;
}

interface Snapshot {
  bridges: BridgeStatus[];
  ports: PortRow[];
  router: RouterStatus | undefined;
}

/** Metrics is tapwire's Prometheus registry; see the comment at the top of this file. */
export class Metrics {
  /** registry holds every tapwire metric and prom-client's default process metrics. */
  readonly registry: Registry;
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private pending: Promise<Snapshot> | undefined;

  constructor(private readonly source: MetricsSource) {
    const registry = new Registry();
    this.registry = registry;
    // The event-loop-lag metrics sample with a timer; at prom-client's default 10 ms it wakes the main
    // thread 100 times a second, which on an idle lab costs the data plane latency (a woken vCPU is shared).
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
    // prom-client exports these three gauges with a `_total` suffix, which Prometheus reserves for
    // counters (promtool's lint rejects them). Each equals sum() of its per-type gauge without the suffix
    // (nodejs_active_handles, ...), which stays.
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);

    new Gauge({
      name: 'tapwire_build_info',
      help: 'Always 1; the version label is the running tapwire version.',
      labelNames: ['version'],
      registers: [registry],
    }).set({ version: VERSION }, 1);

    for (const [name, field, help] of PORT_COUNTERS) {
      const m: Counter<(typeof PORT_LABELS)[number]> = new Counter({
        name,
        help,
        labelNames: PORT_LABELS,
        registers: [registry],
        collect: async () => {
          const { ports } = await this.snapshot();
          m.reset();
          for (const p of ports) m.inc(p.labels, p.counters[field]);
        },
      });
    }

    const drops: Counter<(typeof PORT_LABELS)[number] | 'reason'> = new Counter({
      name: 'tapwire_port_drops_total',
      help: 'Frames not delivered, by reason (ingress reasons count on the ingress port, egress ones on the egress port).',
      labelNames: [...PORT_LABELS, 'reason'],
      registers: [registry],
      collect: async () => {
        const { ports } = await this.snapshot();
        drops.reset();
        // Every reason gets a series, zero included, so that rate() and increase() work from the first drop.
        for (const p of ports) {
          for (const reason of DROP_REASONS) drops.inc({ ...p.labels, reason }, p.counters.drops[reason] ?? 0);
        }
      },
    });

    const up: Gauge<(typeof PORT_LABELS)[number]> = new Gauge({
      name: 'tapwire_port_up',
      help: 'Whether the port is up (1) or down or in error (0).',
      labelNames: PORT_LABELS,
      registers: [registry],
      collect: async () => {
        const { ports } = await this.snapshot();
        up.reset();
        for (const p of ports) up.set(p.labels, p.state === 'up' ? 1 : 0);
      },
    });

    for (const [name, field, help] of BRIDGE_COUNTERS) {
      const m: Counter<'bridge'> = new Counter({
        name,
        help,
        labelNames: ['bridge'],
        registers: [registry],
        collect: async () => {
          const { bridges } = await this.snapshot();
          m.reset();
          for (const b of bridges) m.inc({ bridge: b.name }, b.counters[field]);
        },
      });
    }

    const entries: Gauge<'bridge'> = new Gauge({
      name: 'tapwire_bridge_fdb_entries',
      help: 'Entries in the forwarding database now (learned and static).',
      labelNames: ['bridge'],
      registers: [registry],
      collect: async () => {
        const { bridges } = await this.snapshot();
        entries.reset();
        for (const b of bridges) entries.set({ bridge: b.name }, b.counters.fdbEntries);
      },
    });

    const max: Gauge<'bridge'> = new Gauge({
      name: 'tapwire_bridge_fdb_max',
      help: 'The cap on forwarding database entries (fdbMax); learning evicts beyond it.',
      labelNames: ['bridge'],
      registers: [registry],
      collect: async () => {
        const { bridges } = await this.snapshot();
        max.reset();
        for (const b of bridges) max.set({ bridge: b.name }, b.fdbMax);
      },
    });

    for (const [name, help, label, slots] of ROUTER_COUNTERS) {
      const m: Counter<string> = new Counter({
        name,
        help,
        labelNames: label === undefined ? [] : [label],
        registers: [registry],
        collect: async () => {
          const { router } = await this.snapshot();
          m.reset();
          if (router === undefined) return;
          for (const [value, field] of slots) {
            if (label === undefined) m.inc(router.counters[field]);
            else m.inc({ [label]: value }, router.counters[field]);
          }
        },
      });
    }

    for (const [name, help, label, slots] of ROUTER_GAUGES) {
      const m: Gauge<string> = new Gauge({
        name,
        help,
        labelNames: label === undefined ? [] : [label],
        registers: [registry],
        collect: async () => {
          const { router } = await this.snapshot();
          m.reset();
          if (router === undefined) return;
          for (const [value, field] of slots) {
            if (label === undefined) m.set(router.counters[field]);
            else m.set({ [label]: value }, router.counters[field]);
          }
        },
      });
    }

    const interfaces: Gauge = new Gauge({
      name: 'tapwire_router_interfaces',
      help: 'Router interfaces built now.',
      registers: [registry],
      collect: async () => {
        const { router } = await this.snapshot();
        interfaces.reset();
        if (router !== undefined) interfaces.set(router.interfaces);
      },
    });

    const routerDrops: Counter<'reason'> = new Counter({
      name: 'tapwire_router_drops_total',
      help: 'Packets the router discarded, by reason (RFC 1812 / RFC 8200 discards; each packet counted once).',
      labelNames: ['reason'],
      registers: [registry],
      collect: async () => {
        const { router } = await this.snapshot();
        routerDrops.reset();
        if (router === undefined) return;
        for (const reason of ROUTER_DROP_REASONS) routerDrops.inc({ reason }, router.counters.drops[reason] ?? 0);
      },
    });

    const icmpSent: Counter<'family' | 'type'> = new Counter({
      name: 'tapwire_router_icmp_sent_total',
      help: 'ICMP and ICMPv6 messages the router sent (echo replies and errors), by IP family and type.',
      labelNames: ['family', 'type'],
      registers: [registry],
      collect: async () => {
        const { router } = await this.snapshot();
        icmpSent.reset();
        if (router === undefined) return;
        const sent = new Map(router.counters.icmpSent.map((i) => [`${i.family}/${i.type}`, i.count]));
        for (const k of ICMP_SENT) icmpSent.inc({ family: String(k.family), type: k.type }, sent.get(`${k.family}/${k.type}`) ?? 0);
      },
    });

    this.requestDuration = new Histogram({
      name: 'tapwire_api_request_duration_seconds',
      help: 'Time to answer REST API requests, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: API_DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** contentType is the Content-Type of `render()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * observeRequest records one API request. `route` must be the route pattern (`/v1/bridges/:bridge`),
   * never the raw URL, or every distinct URL becomes a series; pass '' (or UNMATCHED_ROUTE) for a request
   * that matched no route.
   */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method: method.toUpperCase(), route: route === '' ? UNMATCHED_ROUTE : route, status_code: String(statusCode) }, seconds);
  }

  /** render reads the daemon's counters and returns every metric in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  // snapshot returns the scrape's one reading of the source. registry.metrics() calls every collector
  // synchronously before awaiting any of them, so they all share the same pending reading; it is dropped
  // once settled, so the next scrape reads fresh values (and a failed reading is not kept).
  private snapshot(): Promise<Snapshot> {
    if (this.pending === undefined) {
      const s = this.source;
      const p = Promise.all([s.bridges(), s.ports(), s.links?.() ?? [], s.routerInterfaces?.() ?? [], s.router?.()]).then(([bridges, ports, links, interfaces, router]) => ({
        bridges,
        ports: [
          ...ports.map((x) => ({ labels: { bridge: x.bridge, port: x.name, kind: x.kind }, state: x.state, counters: x.counters })),
          ...links.map((x) => ({ labels: { bridge: '', port: x.name, kind: x.kind }, state: x.state, counters: x.counters })),
          // A link's router interface counts on the link's slot: only the router's ports on bridges are rows of their own.
          ...interfaces.flatMap((x) => (x.bridge === undefined ? [] : [{ labels: { bridge: x.bridge, port: x.name, kind: 'router' }, state: x.state, counters: x.counters }])),
        ],
        router,
      }));
      this.pending = p;
      const clear = (): void => {
        if (this.pending === p) this.pending = undefined;
      };
      p.then(clear, clear);
    }
    return this.pending;
  }
}
