// buildApp: the REST API (contract: ../shared/API.md) as a fastify instance, separate from listen() so
// that tests use inject(). One plugin per resource; every route has request and response schemas, and
// the OpenAPI document is generated from them (served at /v1/openapi.json, committed as api/openapi.json).
import fastify, { FastifyBaseLogger, FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { VERSION } from '../version.js';
import { Bridge, FdbEntry, Health, Link, Neighbor, Port, Route, RouterInterface } from '../daemon/resources.js';
import { bearerAuth } from './auth.js';
import type { DaemonApi } from './daemon-api.js';
import { errorHandler, problem, sendProblem } from './problem.js';
import { apiLogger } from './log.js';
import { useStrictJsonBodies } from './json-body.js';
import { Problem } from './schemas.js';
import { bridgeRoutes } from './routes/bridges.js';
import { portRoutes } from './routes/ports.js';
import { fdbRoutes } from './routes/fdb.js';
import { routerRoutes } from './routes/router.js';

/** MetricsEndpoint is what the API needs of the metrics module. */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
}

/** AppOptions configure one API listener. */
export interface AppOptions {
  /** token, when set, is required as `Authorization: Bearer <token>` on every request (TCP listeners). */
  token?: string;
  metrics?: MetricsEndpoint;
  logger?: FastifyBaseLogger;
}

/** BODY_LIMIT is the largest request body accepted, in bytes. */
export const BODY_LIMIT = 64 * 1024;

/** buildApp builds the API over `daemon`; call ready() (or listen()) before use. Building it calls no
 * method of `daemon`: only requests do. */
export async function buildApp(daemon: DaemonApi, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: options.logger === undefined ? undefined : apiLogger(options.logger),
    bodyLimit: BODY_LIMIT,
    // Errors fastify meets before routing (a bad URL, a path parameter over 100 characters) are problems too.
    frameworkErrors: (error, request, reply) => void errorHandler(error, request, reply),
    // Reject what the schemas do not allow instead of quietly removing or converting it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  });
  app.setErrorHandler(errorHandler);
  useStrictJsonBodies(app);
  app.setNotFoundHandler((req, reply) => sendProblem(reply, problem('TW_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
  if (options.token !== undefined) app.addHook('onRequest', bearerAuth(options.token));
  const metrics = options.metrics;
  if (metrics !== undefined) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  for (const s of [Problem, Bridge, Port, FdbEntry, Link, RouterInterface, Route, Neighbor]) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'tapwire', version: VERSION, description: 'The REST API of tapwired: bridges, ports, forwarding database, links and the router.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required on TCP listeners; the unix socket needs none' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.get(
    '/v1/health',
    {
      schema: {
        tags: ['daemon'],
        summary: 'Liveness and version',
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok', version: VERSION }),
  );
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  if (metrics !== undefined) {
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  }
  await app.register(bridgeRoutes, { daemon });
  await app.register(portRoutes, { daemon });
  await app.register(fdbRoutes, { daemon });
  await app.register(routerRoutes, { daemon });
  return app;
}

/** buildMetricsApp builds the unauthenticated listener of --metrics-listen: only GET /metrics. */
export async function buildMetricsApp(metrics: MetricsEndpoint, logger?: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: logger === undefined ? undefined : apiLogger(logger),
    bodyLimit: 1024,
    frameworkErrors: (error, request, reply) => void errorHandler(error, request, reply),
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => sendProblem(reply, problem('TW_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}; this listener serves only GET /metrics`)));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  return app;
}
