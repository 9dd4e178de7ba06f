// Writes the OpenAPI document of the API to api/openapi.json (`npm run openapi`). A test fails when the
// committed file and the one the code serves differ.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Daemon } from '../daemon/daemon.js';
import { buildApp } from './app.js';

/** OPENAPI_FILE is the committed document. */
export const OPENAPI_FILE = fileURLToPath(new URL('../../../api/openapi.json', import.meta.url));

/** renderOpenApi returns the document as the daemon serves it, in the committed file's formatting. */
export async function renderOpenApi(): Promise<string> {
  const silent = { info() {}, warn() {}, error() {} };
  const daemon = await Daemon.start(silent, { fakeDevices: { netns: [] } });
  try {
    const app = await buildApp(daemon);
    await app.ready();
    const doc = app.swagger();
    await app.close();
    return `${JSON.stringify(doc, null, 2)}\n`;
  } finally {
    await daemon.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
