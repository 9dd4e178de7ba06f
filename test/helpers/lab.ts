// Lab: a throw-away set of network namespaces for end-to-end tests and benchmarks. Every namespace and
// link a Lab makes carries its run's unique prefix (family + pid in base 36 + lab number), nothing is ever created in
// the root namespace, and close() removes it all. A new Lab first removes what earlier runs of the same
// family left behind when their process died (a killed test), never what a live run still uses.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** ExecResult is the output of a finished command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** run executes a program with an argument array (never a shell string) and returns its output. */
export async function run(cmd: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  try {
    const r = await execFileP(cmd, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string; code?: number | string };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.code ?? '?'}): ${err.stderr ?? ''}${err.stdout ?? ''}`.trim());
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** removeStale deletes namespaces of `family` whose creating process is gone. */
export async function removeStale(family: string): Promise<string[]> {
  const removed: string[] = [];
  const re = new RegExp(`^${family}([0-9a-z]+)x`);
  for (const ns of listNetns()) {
    const m = re.exec(ns);
    if (m === null) continue;
    const pid = parseInt(m[1]!, 36);
    if (pidAlive(pid)) continue;
    await killInNetns(ns);
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    removed.push(ns);
  }
  return removed;
}

async function killInNetns(ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

let labsMade = 0;

/** Lab owns a run's namespaces and the processes started in them. */
export class Lab {
  /** prefix starts every namespace and link name of this run; keep short names behind it (<= 15 bytes). */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ChildProcess>();

  /** family is 2-4 letters that mark who made it, e.g. "twt" for tests, "twb" for benchmarks. */
  constructor(readonly family: string) {
    // pid in base 36, then 'x', then the lab's number in this process: labs of one run never collide.
    this.prefix = `${family}${process.pid.toString(36)}x${(labsMade++ % 36).toString(36)}`;
    if (this.prefix.length > 11) throw new Error(`lab prefix ${this.prefix} leaves too little room for names`);
  }

  /** create removes stale namespaces of the family; call it before anything else. */
  static async create(family: string): Promise<Lab> {
    await removeStale(family);
    return new Lab(family);
  }

  /** name returns the full (prefixed) name for a short one, checking the 15-byte limit. */
  name(short: string): string {
    const n = `${this.prefix}${short}`;
    if (Buffer.byteLength(n) > 15) throw new Error(`name ${n} is longer than 15 bytes`);
    return n;
  }

  /** addNs creates namespace `short` with its loopback up and returns its full name. */
  async addNs(short: string): Promise<string> {
    const ns = this.name(short);
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** exec runs a command inside namespace `short` and returns its output. */
  exec(short: string, cmd: string, args: string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name(short), cmd, ...args], options);
  }

  /** ip runs `ip -n NS ...` for namespace `short`. */
  ip(short: string, ...args: string[]): Promise<ExecResult> {
    return run('ip', ['-n', this.name(short), ...args]);
  }

  /** spawn starts a long-running command inside namespace `short`; close() kills it if still running. */
  spawn(short: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name(short), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.procs.add(child);
    child.once('exit', () => this.procs.delete(child));
    return child;
  }

  /** close kills what the lab started and removes its namespaces (and so every link in them). */
  async close(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.all([...this.procs].map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
    const namespaces = this.namespaces.splice(0).reverse();
    for (const ns of namespaces) {
      await killInNetns(ns);
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  }
}
