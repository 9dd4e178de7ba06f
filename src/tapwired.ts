#!/usr/bin/env node
// tapwired: the daemon entry, the top floor that wires the daemon, the API, the metrics and the fd server
// together (nothing imports it). It rebuilds the saved state of --state-dir, serves the REST API on the unix
// socket (and on --listen with a bearer token), and runs until SIGTERM/SIGINT, when it closes every device
// (its TAPs disappear) and exits 0; the next start rebuilds them. SIGUSR1 logs one `stats` line.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { FastifyInstance } from 'fastify';
import { TwError } from './errors.js';
import { VERSION } from './version.js';
import { buildApp, buildMetricsApp } from './api/app.js';
import { parseHostPort, restrictSocket } from './api/listen.js';
import { Metrics } from './metrics/metrics.js';
import { Daemon } from './daemon/daemon.js';
import { FdServer, fdSocketFor, prepareSocket } from './ports/fd-server.js';
import { STATE_DIR_MODE, StateError, StateStore } from './daemon/state-store.js';
import { topology } from './daemon/specs.js';

const USAGE = `Usage: tapwired [options]

  --socket PATH          API unix socket, mode 0660, no token (default /run/tapwire/tapwired.sock)
  --fd-socket PATH       where \`tapwire exec\` gets the TAP fd of a vm port (mode 0666: each request is
                         judged by the caller's uid/gid against the port's owner and group; default
                         beside --socket: /run/tapwire/tapwired-fd.sock)
  --socket-dir DIR       the only directory socket ports may listen in (created mode 0755 if missing;
                         default /run/tapwire/ports)
  --listen HOST:PORT     also serve the API over TCP; every request needs "Authorization: Bearer <token>"
  --token-file PATH      the token for --listen (default: generated into <state-dir>/api-token, mode 0600)
  --metrics-listen HOST:PORT  serve GET /metrics without authentication on HOST:PORT
  --state-dir DIR        where state.json is kept (default /var/lib/tapwire)
  --config FILE          also build what FILE (JSON: bridges with ports, links, routerInterfaces, routes)
                         holds and the state does not have yet
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace
  --version, --help

Each option can also be set in the environment: TAPWIRE_SOCKET, TAPWIRE_FD_SOCKET, TAPWIRE_SOCKET_DIR, TAPWIRE_LISTEN, TAPWIRE_TOKEN_FILE,
TAPWIRE_METRICS_LISTEN, TAPWIRE_STATE_DIR, TAPWIRE_CONFIG, TAPWIRE_LOG_LEVEL (the flag wins).
Signals: SIGTERM/SIGINT stop cleanly; SIGUSR1 logs the counters of every bridge, port and link, and the
router's, as one "stats" line.`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const OPTIONS = {
  socket: { type: 'string', env: 'TAPWIRE_SOCKET', default: '/run/tapwire/tapwired.sock' },
  'fd-socket': { type: 'string', env: 'TAPWIRE_FD_SOCKET' },
  'socket-dir': { type: 'string', env: 'TAPWIRE_SOCKET_DIR', default: '/run/tapwire/ports' },
  listen: { type: 'string', env: 'TAPWIRE_LISTEN' },
  'token-file': { type: 'string', env: 'TAPWIRE_TOKEN_FILE' },
  'metrics-listen': { type: 'string', env: 'TAPWIRE_METRICS_LISTEN' },
  'state-dir': { type: 'string', env: 'TAPWIRE_STATE_DIR', default: '/var/lib/tapwire' },
  config: { type: 'string', env: 'TAPWIRE_CONFIG' },
  'log-level': { type: 'string', env: 'TAPWIRE_LOG_LEVEL', default: 'info' },
} as const;
type Flag = keyof typeof OPTIONS;

function fail(message: string): never {
  process.stderr.write(`tapwired: ${message}\n`);
  process.exit(2);
}

function parseFlags(): Record<Flag, string | undefined> | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: { ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])), version: { type: 'boolean' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  if (values.version === true) {
    process.stdout.write(`${VERSION}\n`);
    return undefined;
  }
  const out = {} as Record<Flag, string | undefined>;
  for (const [k, o] of Object.entries(OPTIONS) as [Flag, (typeof OPTIONS)[Flag]][]) {
    const v = values[k] ?? process.env[o.env];
    out[k] = typeof v === 'string' && v !== '' ? v : 'default' in o ? o.default : undefined;
  }
  return out;
}

/** apiToken reads --token-file, or reuses/generates <state-dir>/api-token (mode 0600), making the state
 * directory first when it does not exist yet (as the state store would at its first save). */
function apiToken(tokenFile: string | undefined, stateDir: string): { token: string; path: string; generated: boolean } {
  const path = tokenFile ?? join(stateDir, 'api-token');
  if (tokenFile !== undefined || existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length < 16) throw new Error(`the token in ${path} is shorter than 16 characters`);
    return { token, path, generated: false };
  }
  const token = randomBytes(32).toString('base64url');
  mkdirSync(stateDir, { recursive: true, mode: STATE_DIR_MODE });
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, path, generated: true };
}

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags === undefined) return;
  const level = flags['log-level']!;
  if (!LEVELS.includes(level)) fail(`--log-level must be one of ${LEVELS.join(', ')}`);
  let listen;
  let metricsListen;
  try {
    listen = flags.listen === undefined ? undefined : parseHostPort(flags.listen, '--listen');
    metricsListen = flags['metrics-listen'] === undefined ? undefined : parseHostPort(flags['metrics-listen'], '--metrics-listen');
  } catch (e) {
    fail((e as Error).message);
  }
  let topo;
  if (flags.config !== undefined) {
    try {
      topo = topology(JSON.parse(readFileSync(flags.config, 'utf8')));
    } catch (e) {
      fail(`${flags.config}: ${e instanceof TwError ? e.detail : (e as Error).message}`);
    }
  }

  const log = pino({ level, base: { pid: process.pid }, name: 'tapwired', redact: ['req.headers.authorization', 'token'] });
  const stateDir = flags['state-dir']!;
  const socketPath = flags.socket!;
  const fdSocketPath = flags['fd-socket'] ?? fdSocketFor(socketPath);
  const socketDir = flags['socket-dir']!;
  try {
    // Made before the state is rebuilt: saved socket ports listen in it. Without it the daemon still runs,
    // and refuses socket ports (saved ones stay pending) with the reason.
    mkdirSync(socketDir, { recursive: true, mode: 0o755 });
  } catch (e) {
    log.warn({ socketDir, err: (e as Error).message }, 'cannot make the socket port directory; socket ports are refused until it exists');
  }
  let stopping = false;
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(log, {
      store: new StateStore(stateDir),
      socketDir,
      ownSockets: [
        { path: socketPath, what: 'API socket' },
        { path: fdSocketPath, what: 'fd socket' },
      ],
      onFatal: (reason) => {
        if (stopping) return;
        log.fatal({ reason }, 'data plane failed');
        process.exit(1);
      },
    });
  } catch (e) {
    if (e instanceof StateError) {
      log.fatal({ stateFile: join(stateDir, 'state.json') }, e.message);
      fail(e.message);
    }
    throw e;
  }
  const listeners: FastifyInstance[] = [];
  let fdServer: FdServer | undefined;
  const stop = async (signal: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    for (const l of listeners) await l.close().catch(() => undefined);
    fdServer?.close();
    await daemon.close();
    log.info('stopped');
    process.exit(code);
  };
  try {
    if (topo !== undefined) await daemon.apply(topo);
    const metrics = new Metrics(daemon);
    await prepareSocket(socketPath);
    const local = await buildApp(daemon, { metrics, logger: log.child({ listener: 'socket' }) });
    listeners.push(local);
    // Created as 0660 from the start (the umask), not only after the chmod.
    const umask = process.umask(0o117);
    try {
      await local.listen({ path: socketPath });
    } finally {
      process.umask(umask);
    }
    restrictSocket(socketPath);
    fdServer = await FdServer.listen({
      path: fdSocketPath,
      mode: 0o666,
      resolver: (port, cred) => daemon.vmFd(port, cred),
      logger: log.child({ listener: 'fd' }),
    });
    if (listen !== undefined) {
      const t = apiToken(flags['token-file'], stateDir);
      if (t.generated) log.info({ tokenFile: t.path }, 'generated an API token');
      const tcp = await buildApp(daemon, { metrics, token: t.token, logger: log.child({ listener: 'tcp' }) });
      listeners.push(tcp);
      await tcp.listen({ host: listen.host, port: listen.port });
    }
    if (metricsListen !== undefined) {
      const m = await buildMetricsApp(metrics, log.child({ listener: 'metrics' }, { level: 'warn' }));
      listeners.push(m);
      await m.listen({ host: metricsListen.host, port: metricsListen.port });
    }
  } catch (e) {
    log.fatal({ err: e instanceof TwError ? { code: e.code, detail: e.detail } : (e as Error).message }, 'cannot start');
    process.stderr.write(`tapwired: ${e instanceof TwError ? e.detail : (e as Error).message}\n`);
    await stop('startup failure', 1);
  }

  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGUSR1', () => {
    void Promise.all([daemon.bridges(), daemon.ports(), daemon.links(), daemon.router()]).then(([bridges, ports, links, router]) => log.info({ bridges, ports, links, router }, 'stats'));
  });
  log.info({ version: VERSION, socket: socketPath, fdSocket: fdServer?.path, socketDir, listen: flags.listen, metricsListen: flags['metrics-listen'], stateDir }, 'ready');
}

main().catch((e: unknown) => {
  process.stderr.write(`tapwired: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
