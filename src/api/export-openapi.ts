// Writes the OpenAPI document of the API to api/openapi.json (`npm run openapi`). A test fails when the
// committed file and the one the code serves differ. The document comes from the routes' schemas alone: the
// app is built over an offline daemon, whose methods no request reaches, so no data plane is started.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import type { DaemonApi } from './daemon-api.js';

/** OPENAPI_FILE is the committed document. */
export const OPENAPI_FILE = fileURLToPath(new URL('../../../api/openapi.json', import.meta.url));

// offline stands in for the daemon: building the app calls none of its methods, and the app is never asked
// a request, so any call is a bug and says so.
const offline = new Proxy({} as DaemonApi, {
  get: (_target, method) => () => Promise.reject(new Error(`export-openapi: the offline daemon was asked ${String(method)}()`)),
});

/** renderOpenApi returns the document as the daemon serves it, in the committed file's formatting. */
export async function renderOpenApi(): Promise<string> {
  const app = await buildApp(offline);
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
