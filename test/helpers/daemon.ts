// A tapwired process under test, started inside a Lab namespace with a topology file, read through its JSON
// log lines (`ready`, `stats`).
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Lab } from './lab.js';
import type { PortCounters } from '../../src/dataplane/counters.js';

/** MAIN is the compiled daemon entry. */
export const MAIN = fileURLToPath(new URL('../../src/tapwired.js', import.meta.url));

/** PortStats is a port's entry in the daemon's `stats` line. */
export interface PortStats {
  name: string;
  index: number;
  state: string;
  counters: PortCounters & { drops: Record<string, number> };
}

/** BridgeStats is a bridge's entry in the `stats` line. */
export interface BridgeStats {
  name: string;
  counters: Record<string, number>;
}

/** RunningDaemon is a started tapwired. */
export class RunningDaemon {
  readonly lines: Record<string, unknown>[] = [];
  private waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(
    readonly proc: ChildProcess,
    private readonly dir: string,
    readonly files: DaemonFiles,
  ) {
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  }

  /** waitFor resolves with the first log line (past or future) matching `pred`. */
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon log line not seen in ${timeoutMs} ms; stderr: ${this.stderr}; log: ${JSON.stringify(this.lines.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** stats asks for a `stats` line (SIGUSR1) and returns the ports and bridges by name. */
  async stats(): Promise<{ ports: Record<string, PortStats>; bridges: Record<string, BridgeStats> }> {
    const count = this.lines.length;
    this.proc.kill('SIGUSR1');
    const line = await this.waitFor((l) => l.msg === 'stats' && this.lines.indexOf(l) >= count);
    const ports = Object.fromEntries((line.ports as PortStats[]).map((p) => [p.name, p]));
    const bridges = Object.fromEntries((line.bridges as BridgeStats[]).map((b) => [b.name, b]));
    return { ports, bridges };
  }

  /** stop sends SIGTERM and waits (at most 15 s, then SIGKILL) for the exit code; `keepFiles` leaves
   * the socket and state directory for a restart. */
  async stop(keepFiles = false): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}

/** DaemonFiles are where a test daemon keeps its socket, state and topology file. */
export interface DaemonFiles {
  dir: string;
  socket: string;
  stateDir: string;
}

/** daemonFiles makes a temporary directory for a test daemon (removed by RunningDaemon.stop()). */
export function daemonFiles(lab: Lab): DaemonFiles {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-`));
  return { dir, socket: join(dir, 'api.sock'), stateDir: join(dir, 'state') };
}

/**
 * startDaemon runs tapwired in namespace `ns` (short name) with `topology` (or none) and waits for
 * `ready`. It gets its own socket and state directory (pass `files` again to restart on the same state)
 * and the extra `args`.
 */
export async function startDaemon(lab: Lab, ns: string, topology: unknown, env: Record<string, string> = {}, options: { files?: DaemonFiles; args?: string[] } = {}): Promise<RunningDaemon> {
  const files = options.files ?? daemonFiles(lab);
  // Socket ports listen in the run's own directory unless the test names another (a later flag wins): a test
  // never makes the default /run/tapwire/ports on the host.
  const args = [MAIN, '--socket', files.socket, '--state-dir', files.stateDir, '--socket-dir', join(files.dir, 'ports'), ...(options.args ?? [])];
  if (topology !== undefined) {
    const config = join(files.dir, 'topology.json');
    writeFileSync(config, JSON.stringify(topology));
    args.push('--config', config);
  }
  const d = new RunningDaemon(lab.spawn(ns, process.execPath, args, env), files.dir, files);
  const outcome = await Promise.race([d.waitFor((l) => l.msg === 'ready', 20_000).then(() => 'ready'), d.exited.then((c) => `exited with ${c}`)]);
  if (outcome !== 'ready') throw new Error(`tapwired did not start (${outcome}): ${d.stderr} ${JSON.stringify(d.lines)}`);
  return d;
}
