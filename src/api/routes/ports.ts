// Ports of a bridge: list, create, show, delete.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Port, PortCreate } from '../../daemon/resources.js';
import type { DaemonApi } from '../daemon-api.js';
import { errors, noContent, params, ref } from '../schemas.js';

/** portRoutes registers /v1/bridges/{bridge}/ports. */
export const portRoutes: FastifyPluginAsyncTypebox<{ daemon: DaemonApi }> = async (app, { daemon }) => {
  const tags = ['ports'];
  app.get(
    '/v1/bridges/:bridge/ports',
    { schema: { tags, summary: 'List the ports of a bridge', params: params('bridge'), response: { 200: Type.Array(ref(Port)), ...errors } } },
    async (req) => {
      await daemon.bridge(req.params.bridge);
      return daemon.ports(req.params.bridge);
    },
  );
  app.post(
    '/v1/bridges/:bridge/ports',
    { schema: { tags, summary: 'Create a port on a bridge', params: params('bridge'), body: PortCreate, response: { 201: ref(Port), ...errors } } },
    async (req, reply) => reply.code(201).send(await daemon.addPort(req.params.bridge, req.body)),
  );
  app.get(
    '/v1/bridges/:bridge/ports/:port',
    { schema: { tags, summary: 'Show a port with its state and counters', params: params('bridge', 'port'), response: { 200: ref(Port), ...errors } } },
    async (req) => {
      await daemon.bridge(req.params.bridge);
      return daemon.port(req.params.bridge, req.params.port);
    },
  );
  app.delete(
    '/v1/bridges/:bridge/ports/:port',
    { schema: { tags, summary: 'Delete a port (its device is removed)', params: params('bridge', 'port'), response: { 204: noContent, ...errors } } },
    async (req, reply) => {
      await daemon.removePort(req.params.bridge, req.params.port);
      return reply.code(204).send();
    },
  );
};
