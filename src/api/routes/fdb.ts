// The forwarding database of a bridge: list, pin a static entry, delete an entry, flush learned entries.
import { FastifyInstance } from 'fastify';
import { Daemon } from '../../daemon/daemon.js';
import { FdbCreate, errors, noContent, params } from '../schemas.js';

/** fdbRoutes registers /v1/bridges/{bridge}/fdb. */
export async function fdbRoutes(app: FastifyInstance, opts: { daemon: Daemon }): Promise<void> {
  const { daemon } = opts;
  const tags = ['fdb'];
  app.get<{ Params: { bridge: string } }>(
    '/v1/bridges/:bridge/fdb',
    { schema: { tags, summary: 'List the forwarding database', params: params('bridge'), response: { 200: { type: 'array', items: { $ref: 'FdbEntry#' } }, ...errors } } },
    (req) => daemon.fdb(req.params.bridge),
  );
  app.post<{ Params: { bridge: string }; Body: { mac: string; port: string } }>(
    '/v1/bridges/:bridge/fdb',
    { schema: { tags, summary: 'Add a static entry', params: params('bridge'), body: FdbCreate, response: { 201: { $ref: 'FdbEntry#' }, ...errors } } },
    async (req, reply) => reply.code(201).send(await daemon.fdbAdd(req.params.bridge, req.body.mac, req.body.port)),
  );
  app.delete<{ Params: { bridge: string; mac: string } }>(
    '/v1/bridges/:bridge/fdb/:mac',
    { schema: { tags, summary: 'Delete one entry, static or learned', params: params('bridge', 'mac'), response: { 204: noContent, ...errors } } },
    async (req, reply) => {
      await daemon.fdbDelete(req.params.bridge, req.params.mac);
      return reply.code(204).send();
    },
  );
  app.delete<{ Params: { bridge: string } }>(
    '/v1/bridges/:bridge/fdb',
    {
      schema: {
        tags,
        summary: 'Flush the learned entries (static entries stay)',
        params: params('bridge'),
        response: { 200: { type: 'object', required: ['flushed'], properties: { flushed: { type: 'integer', minimum: 0 } } }, ...errors },
      },
    },
    async (req) => ({ flushed: await daemon.fdbFlush(req.params.bridge) }),
  );
}
