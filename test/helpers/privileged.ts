// Gate for end-to-end tests: they need root (CAP_NET_ADMIN) and the tools of scripts/test-deps.sh. Under CI
// (CI=true) a missing requirement fails the test loudly; elsewhere the test is skipped with the reason.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { TestContext } from 'node:test';

const TOOLS = ['ip', 'ping', 'iperf3', 'tcpdump', 'python3', 'curl'];

/** missingRequirement says why end-to-end tests cannot run here, or returns undefined. */
export function missingRequirement(tools: string[] = TOOLS): string | undefined {
  if (process.getuid?.() !== 0) return 'end-to-end tests need root (CAP_NET_ADMIN for TAP devices and namespaces)';
  for (const t of tools) {
    if (!onPath(t)) return `end-to-end tests need ${t} (run scripts/test-deps.sh as root)`;
  }
  return undefined;
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** requirePrivileges skips (or under CI fails) the test when missingRequirement() finds something. */
export function requirePrivileges(t: TestContext, tools?: string[]): boolean {
  const why = missingRequirement(tools);
  if (why === undefined) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`CI: ${why}`);
  t.skip(why);
  return false;
}
