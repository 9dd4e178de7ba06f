// VERSION is tapwire's version, read from package.json at start.
import { readFileSync } from 'node:fs';

/** VERSION is the package version. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
