// The native addon against the real kernel, inside a namespace of the test's own: TUN/TAP creation with
// vnet headers and offloads, persistence and ownership, link and address configuration over rtnetlink,
// errors with errno names, and the IoLoop's batched send/receive through a TAP. The calls run in a child
// process started inside the namespace, so the test process itself stays where it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../helpers/lab.js';
import { requirePrivileges } from '../helpers/privileged.js';

const NATIVE = fileURLToPath(new URL('../../src/native/index.js', import.meta.url));

// The script runs inside the lab's namespace "d"; it prints one JSON line of findings.
const SCRIPT = `
import { native, isNativeError } from ${JSON.stringify(NATIVE)};
import { execFileSync } from 'node:child_process';
const [tap, tun, other] = process.argv.slice(2);
const n = native();
const out = {};
const link = (name, ns) => execFileSync('ip', [...(ns ? ['-n', ns] : []), '-d', '-j', 'link', 'show', name], { encoding: 'utf8' });
const err = (f) => { try { f(); return 'no error'; } catch (e) { return isNativeError(e) ? e.code + ' ' + e.syscall : 'not native: ' + e.message; } };

const t = n.openTun({ name: tap, mode: 'tap', vnetHdrSize: 12, offload: true });
out.tapName = t.name;
out.offloads = t.offloads;
n.linkSet({ ifname: tap, mac: Uint8Array.from([2, 0x77, 0, 0, 0, 1]), mtu: 9000, up: true });
const l = JSON.parse(link(tap))[0];
out.tapLink = { mtu: l.mtu, address: l.address, up: l.flags.includes('UP'), kind: l.linkinfo?.info_kind, type: l.linkinfo?.info_data?.type, vnetHdr: l.linkinfo?.info_data?.vnet_hdr };
n.addrAdd({ ifname: tap, family: 4, address: Uint8Array.from([10, 76, 0, 1]), prefixLength: 24 });
n.addrAdd({ ifname: tap, family: 6, address: Uint8Array.from([0xfd, 0x76, ...new Array(13).fill(0), 1]), prefixLength: 64, nodad: true });
out.addrs = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', tap], { encoding: 'utf8' }))[0].addr_info.map((a) => a.local + '/' + a.prefixlen + (a.tentative ? ' tentative' : ''));
out.dupAddr = err(() => n.addrAdd({ ifname: tap, family: 4, address: Uint8Array.from([10, 76, 0, 1]), prefixLength: 24 }));
out.busy = err(() => n.openTun({ name: tap, mode: 'tap' }));
out.noDev = err(() => n.linkSet({ ifname: 'nosuchdev0', up: true }));
out.noNs = err(() => n.linkMove({ ifname: tap, to: 'no-such-namespace' }));

// A frame sent through the IoLoop comes out of the TAP's netdev (and one the netdev sends comes in).
const got = [];
const loop = new n.IoLoop({ slots: 8, slotSize: 66048, planSize: 16 }, (port, count, errno) => {
  for (let i = 0; i < count; i++) got.push({ port, len: loop.rxLengths[i], errno });
});
loop.add(t.fd, 3);
const frame = new Uint8Array(12 + 60);
frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0x77, 0, 0, 0, 9, 0x88, 0xb5], 12);
out.sendResult = loop.send(t.fd, frame);
out.sendBad = loop.send(t.fd, new Uint8Array(4));
try {
  execFileSync('ping', ['-c', '1', '-W', '1', '10.76.0.2'], { stdio: 'ignore' });
} catch {
  // nobody answers: the ARP request is what we want to see arrive
}
`;

const SCRIPT_TAIL = `
setTimeout(() => {
  out.received = got.filter((g) => g.port === 3 && g.len > 12).length;
  loop.remove(3);
  loop.close();
  n.closeFd(t.fd);
  out.tapGoneAfterClose = err(() => n.linkIndex({ ifname: tap }));

  const u = n.openTun({ name: tun, mode: 'tun', vnetHdrSize: 12, offload: true });
  n.setPersist(u.fd, true);
  n.setOwner(u.fd, 65534);
  n.setGroup(u.fd, 65534);
  n.closeFd(u.fd);
  const ul = JSON.parse(link(tun))[0].linkinfo.info_data;
  out.tun = { type: ul.type, pi: ul.pi, vnetHdr: ul.vnet_hdr, persist: ul.persist, user: ul.user, group: ul.group };
  n.linkMove({ ifname: tun, to: other });
  out.movedIndex = n.linkIndex({ ifname: tun, netns: other }) > 0;
  n.linkSet({ ifname: tun, netns: other, up: true });
  n.linkDel({ ifname: tun, netns: other });
  out.tunGone = err(() => n.linkIndex({ ifname: tun, netns: other }));
  console.log(JSON.stringify(out));
}, 1500);
`;

test('native addon: devices, rtnetlink, errors and batched I/O against the kernel', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping'])) return;
  const lab = await Lab.create('twt');
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-`));
  try {
    await lab.addNs('d');
    const other = await lab.addNs('o');
    const script = join(dir, 'native-check.mjs');
    writeFileSync(script, SCRIPT + SCRIPT_TAIL);
    const r = await lab.exec('d', process.execPath, [script, lab.name('tap'), lab.name('tun'), other]);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(out.tapName, lab.name('tap'));
    assert.equal(out.offloads, 0x6f, 'CSUM, TSO4, TSO6, TSO_ECN, USO4 and USO6 (this kernel has USO)');
    assert.deepEqual(out.tapLink, { mtu: 9000, address: '02:77:00:00:00:01', up: true, kind: 'tun', type: 'tap', vnetHdr: true });
    assert.deepEqual(out.addrs, ['10.76.0.1/24', 'fd76::1/64', ...(out.addrs as string[]).slice(2)]);
    assert.doesNotMatch(JSON.stringify(out.addrs), /fd76::1\/64 tentative/, 'nodad: usable at once');
    assert.equal(out.dupAddr, 'EEXIST rtnetlink RTM_NEWADDR(' + lab.name('tap') + ')');
    assert.equal(out.busy, 'EBUSY ioctl(TUNSETIFF)');
    assert.equal(out.noDev, 'ENODEV if_nametoindex(nosuchdev0)');
    assert.equal(out.noNs, 'ENOENT open(/run/netns/no-such-namespace)');
    assert.equal(out.sendResult, 0);
    assert.equal(out.sendBad, 22, 'a write shorter than the vnet header is refused with EINVAL');
    assert.ok((out.received as number) >= 1, 'the ping (ARP or ICMP) from the netdev arrived as a batch');
    assert.equal(out.tapGoneAfterClose, 'ENODEV if_nametoindex(' + lab.name('tap') + ')', 'a non-persistent TAP goes with its fd');
    const tun = out.tun as Record<string, unknown>;
    assert.deepEqual({ ...tun, user: undefined, group: undefined }, { type: 'tun', pi: false, vnetHdr: true, persist: true, user: undefined, group: undefined });
    assert.ok([65534, 'nobody'].includes(tun.user as string), `owner ${String(tun.user)}`);
    assert.ok([65534, 'nogroup', 'nobody'].includes(tun.group as string), `group ${String(tun.group)}`);
    assert.equal(out.movedIndex, true);
    assert.equal(out.tunGone, 'ENODEV if_nametoindex(' + lab.name('tun') + ')');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await lab.close();
  }
});
