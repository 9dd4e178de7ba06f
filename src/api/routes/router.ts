// The router: its summary, its interfaces, the links (TUN devices) it routes over, its routes and its
// neighbor cache. Deleting what another object needs is 409 TW_ERR_IN_USE: a link with a router interface,
// a router interface that static routes go out of, a connected route (it goes with its interface).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Link, LinkCreate, Neighbor, Route, RouteCreate, RouterInterface, RouterInterfaceCreate, RouterSummary } from '../../daemon/resources.js';
import type { DaemonApi } from '../daemon-api.js';
import { PrefixQuery, errors, noContent, params, ref } from '../schemas.js';

/** routerRoutes registers /v1/router, /v1/router/interfaces, /v1/links, /v1/routes and /v1/neighbors. */
export const routerRoutes: FastifyPluginAsyncTypebox<{ daemon: DaemonApi }> = async (app, { daemon }) => {
  const tags = ['router'];

  app.get('/v1/router', { schema: { tags, summary: 'The router: how many interfaces and routes it has, and its counters', response: { 200: RouterSummary, ...errors } } }, () =>
    daemon.router(),
  );

  app.get('/v1/router/interfaces', { schema: { tags, summary: 'List the router interfaces', response: { 200: Type.Array(ref(RouterInterface)), ...errors } } }, () =>
    daemon.routerInterfaces(),
  );
  app.post(
    '/v1/router/interfaces',
    { schema: { tags, summary: 'Create a router interface on a bridge or a link', body: RouterInterfaceCreate, response: { 201: ref(RouterInterface), ...errors } } },
    async (req, reply) => reply.code(201).send(await daemon.addRouterInterface(req.body)),
  );
  app.get(
    '/v1/router/interfaces/:interface',
    { schema: { tags, summary: 'Show a router interface with its counters', params: params('interface'), response: { 200: ref(RouterInterface), ...errors } } },
    (req) => daemon.routerInterface(req.params.interface),
  );
  app.delete(
    '/v1/router/interfaces/:interface',
    {
      schema: {
        tags,
        summary: 'Delete a router interface and its connected routes (409 TW_ERR_IN_USE while static routes go out of it)',
        params: params('interface'),
        response: { 204: noContent, ...errors },
      },
    },
    async (req, reply) => {
      await daemon.removeRouterInterface(req.params.interface);
      return reply.code(204).send();
    },
  );

  const linkTags = ['links'];
  app.get('/v1/links', { schema: { tags: linkTags, summary: 'List the links', response: { 200: Type.Array(ref(Link)), ...errors } } }, () => daemon.links());
  app.post('/v1/links', { schema: { tags: linkTags, summary: 'Create a link (a TUN device)', body: LinkCreate, response: { 201: ref(Link), ...errors } } }, async (req, reply) =>
    reply.code(201).send(await daemon.addLink(req.body)),
  );
  app.get('/v1/links/:link', { schema: { tags: linkTags, summary: 'Show a link with its state and counters', params: params('link'), response: { 200: ref(Link), ...errors } } }, (req) =>
    daemon.link(req.params.link),
  );
  app.delete(
    '/v1/links/:link',
    {
      schema: {
        tags: linkTags,
        summary: 'Delete a link and its device (409 TW_ERR_IN_USE while a router interface is on it)',
        params: params('link'),
        response: { 204: noContent, ...errors },
      },
    },
    async (req, reply) => {
      await daemon.removeLink(req.params.link);
      return reply.code(204).send();
    },
  );

  app.get('/v1/routes', { schema: { tags, summary: 'List the routes, connected and static', response: { 200: Type.Array(ref(Route)), ...errors } } }, () => daemon.routes());
  app.post('/v1/routes', { schema: { tags, summary: 'Add a static route', body: RouteCreate, response: { 201: ref(Route), ...errors } } }, async (req, reply) =>
    reply.code(201).send(await daemon.addRoute(req.body)),
  );
  app.delete(
    '/v1/routes',
    {
      schema: {
        tags,
        summary: 'Delete the static route of a prefix (a connected route: 409 TW_ERR_IN_USE, it goes with its interface)',
        querystring: PrefixQuery,
        response: { 204: noContent, ...errors },
      },
    },
    async (req, reply) => {
      await daemon.removeRoute(req.query.prefix);
      return reply.code(204).send();
    },
  );

  app.get('/v1/neighbors', { schema: { tags, summary: 'List the ARP/NDP cache', response: { 200: Type.Array(ref(Neighbor)), ...errors } } }, () => daemon.neighbors());
};
