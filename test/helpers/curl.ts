// curl against a daemon's unix socket: how the end-to-end tests use the REST API, as a user would.
import { run } from './lab.js';

/** curl calls the API over the unix socket and returns the status and parsed body. */
export async function curl(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const args = ['-sS', '--unix-socket', socket, '-X', method, '-o', '-', '-w', '\n%{http_code}', `http://tapwire${path}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  const r = await run('curl', args);
  const i = r.stdout.lastIndexOf('\n');
  const text = r.stdout.slice(0, i);
  return { status: Number(r.stdout.slice(i + 1)), body: text === '' ? undefined : text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
}

/** api is curl that fails unless the status is `expect`, and returns the body. */
export async function api(socket: string, method: string, path: string, body?: unknown, expect = method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200): Promise<unknown> {
  const r = await curl(socket, method, path, body);
  if (r.status !== expect) throw new Error(`${method} ${path} ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
