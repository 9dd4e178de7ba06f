// execWithFd is `tapwire exec --port NAME -- COMMAND [ARG...]`: it asks tapwired's fd socket for an fd of a
// `vm` port's TAP (SCM_RIGHTS; the protocol is in src/ports/fd-server.ts) and runs COMMAND, as the calling
// user, with that fd as its fd 3, e.g. `qemu-system-x86_64 ... -netdev tap,id=n0,fd=3`. COMMAND is run
// directly from the argument array, never through a shell. The CLI keeps no copy of the fd.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { FdRequestError, requestFd, type FdAnswer } from '../ports/fd-client.js';
import { CliError } from './client.js';

/** ExecWithFdOptions are the arguments of execWithFd. */
export interface ExecWithFdOptions {
  /** tapwired's fd socket. */
  socketPath: string;
  /** The `vm` port whose TAP fd is asked for. */
  port: string;
  /** The program and its arguments. */
  command: string[];
  /** Where the fd lands in the child; only 3, the number qemu's `fd=3` and libvirt's habit expect. */
  fdNumber?: 3;
  /** Bound on the whole exchange with tapwired (connect, request, reply), default 10 s. */
  timeoutMs?: number;
}

/** EXEC_REQUEST_TIMEOUT_MS is the default bound on asking tapwired for the fd. */
export const EXEC_REQUEST_TIMEOUT_MS = 10_000;

// Why the request could not be made, in words a user can act on.
const HINTS: Record<string, string> = {
  ENOENT: 'no such socket; is tapwired running?',
  ECONNREFUSED: 'connection refused; is tapwired running?',
  EACCES: "permission denied; run as a member of the socket's group",
  ETIMEDOUT: 'tapwired did not answer in time',
};

// FORWARDED are the signals passed on to the child; the child decides how to stop.
const FORWARDED = ['SIGINT', 'SIGTERM'] as const;

// replyError is the daemon's error text of a reply line without an fd.
function replyError(reply: Buffer): string {
  const text = reply.toString('utf8').split('\n', 1)[0] ?? '';
  try {
    const v = JSON.parse(text) as { error?: unknown };
    if (typeof v.error === 'string') return v.error;
  } catch {
    // Not JSON: show what came.
  }
  return text === '' ? 'tapwired closed the connection without an answer' : text;
}

/** requestPortFd asks tapwired's fd socket for an fd of `port`; it throws a CliError naming why none came. */
export function requestPortFd(socketPath: string, port: string, timeoutMs: number = EXEC_REQUEST_TIMEOUT_MS): number {
  let answer: FdAnswer;
  try {
    answer = requestFd(socketPath, port, timeoutMs);
  } catch (e) {
    if (e instanceof FdRequestError) {
      throw new CliError(`cannot get an fd for port "${port}" from ${socketPath}: ${HINTS[e.code] ?? e.message}`, e.code);
    }
    throw e;
  }
  if (answer.fd === null) throw new CliError(`tapwired gave no fd for port "${port}": ${replyError(answer.reply)}`);
  let ok = false;
  try {
    ok = (JSON.parse(answer.reply.toString('utf8').split('\n', 1)[0] ?? '') as { ok?: unknown }).ok === true;
  } catch {
    // Handled below.
  }
  if (!ok) {
    closeSync(answer.fd);
    throw new CliError(`tapwired sent an fd for port "${port}" with an unexpected reply: ${JSON.stringify(answer.reply.toString('utf8').slice(0, 200))}`);
  }
  return answer.fd;
}

/**
 * execWithFd gets the fd of opts.port from tapwired, runs opts.command with it as fd 3 (0-2 inherited),
 * forwards SIGINT and SIGTERM to the child, and resolves with the child's exit code (128 + the signal's
 * number when a signal killed it). It rejects with a CliError when no fd came or the command cannot start.
 */
export async function execWithFd(opts: ExecWithFdOptions): Promise<number> {
  const fdNumber = opts.fdNumber ?? 3;
  const [file, ...args] = opts.command;
  if (file === undefined || file === '') throw new CliError('exec needs a command to run after --');
  if (fdNumber !== 3) throw new CliError('exec can only place the fd at 3');
  const fd = requestPortFd(opts.socketPath, opts.port, opts.timeoutMs ?? EXEC_REQUEST_TIMEOUT_MS);
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', fd];
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio });
  } finally {
    // The child has its own copy (or never will): ours must not keep the TAP queue attached.
    closeSync(fd);
  }
  return new Promise<number>((resolve, reject) => {
    const forward = (signal: NodeJS.Signals): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, forward);
    const done = (): void => {
      for (const s of FORWARDED) process.off(s, forward);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(new CliError(`cannot run ${JSON.stringify(file)}: ${e.code ?? e.message}`, e.code));
    });
    child.once('exit', (code, signal) => {
      done();
      if (code !== null) resolve(code);
      else resolve(128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
