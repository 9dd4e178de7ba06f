#!/usr/bin/env node
// tapwired: the daemon entry. It starts the data plane, builds the topology of --config (if any), and runs
// until SIGTERM/SIGINT, when it closes every device (its TAPs disappear) and exits 0.
// SIGUSR1 logs one `stats` line with every bridge's and port's counters.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { TwError } from '../errors.js';
import { VERSION } from '../version.js';
import { Daemon } from './daemon.js';
import { topology } from './specs.js';

const USAGE = `Usage: tapwired [--config FILE] [--log-level LEVEL]

  --config FILE      build the bridges and ports described in FILE (JSON) at start (env TAPWIRE_CONFIG)
  --log-level LEVEL  fatal, error, warn, info (default), debug, trace (env TAPWIRE_LOG_LEVEL)
  --version          print the version and exit
  --help             print this help and exit

Signals: SIGTERM/SIGINT stop cleanly; SIGUSR1 logs the counters as one "stats" line.`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

function fail(message: string): never {
  process.stderr.write(`tapwired: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string' },
        'log-level': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const level = values['log-level'] ?? process.env.TAPWIRE_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) fail(`--log-level must be one of ${LEVELS.join(', ')}`);
  const configPath = values.config ?? process.env.TAPWIRE_CONFIG;
  let topo = { bridges: [] } as ReturnType<typeof topology>;
  if (configPath !== undefined && configPath !== '') {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      fail(`cannot read ${configPath}: ${(e as Error).message}`);
    }
    try {
      topo = topology(raw);
    } catch (e) {
      fail(`${configPath}: ${e instanceof TwError ? e.detail : (e as Error).message}`);
    }
  }

  const log = pino({ level, base: { pid: process.pid }, name: 'tapwired' });
  let stopping = false;
  const daemon = await Daemon.start(log, (reason) => {
    if (stopping) return;
    log.fatal({ reason }, 'data plane failed');
    process.exit(1);
  });
  try {
    await daemon.apply(topo);
  } catch (e) {
    log.fatal({ err: e instanceof TwError ? { code: e.code, detail: e.detail } : e }, 'cannot build the topology');
    stopping = true;
    await daemon.close();
    process.exit(1);
  }

  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await daemon.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGUSR1', () => {
    void Promise.all([daemon.bridges(), daemon.ports()]).then(([bridges, ports]) => log.info({ bridges, ports }, 'stats'));
  });
  log.info({ version: VERSION, bridges: topo.bridges.length, ports: topo.bridges.reduce((n, b) => n + b.ports.length, 0) }, 'ready');
}

main().catch((e: unknown) => {
  process.stderr.write(`tapwired: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
