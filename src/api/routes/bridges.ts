// Bridges: list, create, show, change, delete.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Bridge, BridgeCreate, BridgePatch } from '../../daemon/resources.js';
import type { DaemonApi } from '../daemon-api.js';
import { ForceQuery, errors, noContent, params, ref } from '../schemas.js';

/** bridgeRoutes registers /v1/bridges. */
export const bridgeRoutes: FastifyPluginAsyncTypebox<{ daemon: DaemonApi }> = async (app, { daemon }) => {
  const tags = ['bridges'];
  app.get('/v1/bridges', { schema: { tags, summary: 'List bridges', response: { 200: Type.Array(ref(Bridge)), ...errors } } }, () => daemon.bridges());
  app.post('/v1/bridges', { schema: { tags, summary: 'Create a bridge', body: BridgeCreate, response: { 201: ref(Bridge), ...errors } } }, async (req, reply) => {
    const b = await daemon.addBridge(req.body);
    return reply.code(201).send(b);
  });
  app.get('/v1/bridges/:bridge', { schema: { tags, summary: 'Show a bridge', params: params('bridge'), response: { 200: ref(Bridge), ...errors } } }, (req) =>
    daemon.bridge(req.params.bridge),
  );
  app.patch(
    '/v1/bridges/:bridge',
    { schema: { tags, summary: 'Change the aging time or FDB cap of a bridge', params: params('bridge'), body: BridgePatch, response: { 200: ref(Bridge), ...errors } } },
    (req) => daemon.updateBridge(req.params.bridge, req.body),
  );
  app.delete(
    '/v1/bridges/:bridge',
    {
      schema: {
        tags,
        summary: 'Delete a bridge (409 TW_ERR_IN_USE while it has ports, unless force=true)',
        params: params('bridge'),
        querystring: ForceQuery,
        response: { 204: noContent, ...errors },
      },
    },
    async (req, reply) => {
      await daemon.removeBridge(req.params.bridge, req.query.force === 'true');
      return reply.code(204).send();
    },
  );
};
