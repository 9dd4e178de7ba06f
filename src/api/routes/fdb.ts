// The forwarding database of a bridge: list, pin a static entry, delete an entry, flush learned entries.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { FdbCreate, FdbEntry, Flushed } from '../../daemon/resources.js';
import type { DaemonApi } from '../daemon-api.js';
import { errors, noContent, params, ref } from '../schemas.js';

/** fdbRoutes registers /v1/bridges/{bridge}/fdb. */
export const fdbRoutes: FastifyPluginAsyncTypebox<{ daemon: DaemonApi }> = async (app, { daemon }) => {
  const tags = ['fdb'];
  app.get(
    '/v1/bridges/:bridge/fdb',
    { schema: { tags, summary: 'List the forwarding database', params: params('bridge'), response: { 200: Type.Array(ref(FdbEntry)), ...errors } } },
    (req) => daemon.fdb(req.params.bridge),
  );
  app.post(
    '/v1/bridges/:bridge/fdb',
    { schema: { tags, summary: 'Add a static entry', params: params('bridge'), body: FdbCreate, response: { 201: ref(FdbEntry), ...errors } } },
    async (req, reply) => reply.code(201).send(await daemon.fdbAdd(req.params.bridge, req.body.mac, req.body.port)),
  );
  app.delete(
    '/v1/bridges/:bridge/fdb/:mac',
    { schema: { tags, summary: 'Delete one entry, static or learned', params: params('bridge', 'mac'), response: { 204: noContent, ...errors } } },
    async (req, reply) => {
      await daemon.fdbDelete(req.params.bridge, req.params.mac);
      return reply.code(204).send();
    },
  );
  app.delete(
    '/v1/bridges/:bridge/fdb',
    { schema: { tags, summary: 'Flush the learned entries (static entries stay)', params: params('bridge'), response: { 200: Flushed, ...errors } } },
    async (req) => ({ flushed: await daemon.fdbFlush(req.params.bridge) }),
  );
};
