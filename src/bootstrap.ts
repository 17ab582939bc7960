import fastifyStatic from '@fastify/static';
import { Type } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { ValidationFailedError } from './common/errors';
import { appConfig, policyConfig } from './config/configuration';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { requestIdFor } from './common/request-context';
import { DatabaseLocator } from './database/database-locator';
import { HttpDrain } from './common/http-drain';
import { ResponseBatching } from './common/response-batching';
import { BODY_LIMIT, installEdgeGuards } from './common/hostile-input';
import { EdgeRefusals, MAX_PARAM_LENGTH } from './common/edge-refusals';
import { RequestObserver } from './observability/request-observer';
import { StrictQueryValidationPipe, unknownField } from './common/strict-query';
import { createLogger, NestPinoLogger } from './common/logger';
import type { ValidationError } from 'class-validator';

const drains = new WeakMap<NestFastifyApplication, HttpDrain>();

/**
 * Graceful shutdown, step 1: stop accepting connections, answer what arrives on open ones with
 * `Connection: close`, and wait for the requests in flight (see {@link HttpDrain}). `app.close()`
 * then ends event streams (onModuleDestroy), flushes (beforeApplicationShutdown), closes the
 * idle connections left and, last, the database (onApplicationShutdown).
 */
export async function drainHttp(app: NestFastifyApplication, graceMs = 2000): Promise<void> {
  await drains.get(app)?.drain(app.getHttpServer(), graceMs);
}

/** The path of the first failing field, as OpenAI's `param` names it: `messages[0].role`. */
function fieldPath(error: ValidationError): string {
  let path = error.property;
  let node = error;
  while (!node.constraints && node.children?.length) {
    node = node.children[0];
    path += /^\d+$/.test(node.property) ? `[${node.property}]` : `.${node.property}`;
  }
  return path;
}

/**
 * Builds the application (used by main.ts, the e2e tests and the benchmarks alike): Fastify,
 * form bodies for OAuth, validation that names the bad field, problem+json errors, OpenAPI.
 */
export async function createApp(
  /** `module`: a module wrapping AppModule (the benchmark adds a public twin of /v1/infer). */
  options: { logger?: boolean; module?: Type<unknown> } = {},
): Promise<NestFastifyApplication> {
  const config = appConfig();
  const edge = new EdgeRefusals();
  const adapter = new FastifyAdapter({
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // What is refused before routing (a malformed URL, an overlong path parameter, bytes that
    // are not HTTP) is answered in problem+json, logged and counted like everything else.
    frameworkErrors: edge.frameworkErrors,
    clientErrorHandler: edge.clientErrorHandler,
    bodyLimit: BODY_LIMIT,
    // X-Forwarded-For/-Proto from TRUST_PROXY's senders only (default: loopback and private
    // networks), so a client talking to Tessera directly cannot choose the address that the
    // audit trail records and per-address limits count.
    trustProxy:
      typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // Shutdown drains: a request arriving on an open keep-alive connection while the server
    // closes is answered (with `Connection: close`), not refused with a 503.
    return503OnClosing: false,
    // request.id: the caller's X-Request-Id when sane, else a UUID (never a per-process counter).
    requestIdHeader: false,
    genReqId: requestIdFor,
    // No Express-style middleware anywhere (request lines come from a Fastify hook): without
    // this Nest registers @fastify/middie, one more layer on every request.
    skipMiddie: true,
  });
  const drain = new HttpDrain();
  drain.install(adapter.getInstance());
  // Answers go out at the end of the event-loop turn, together (fewer wake-ups of the client).
  new ResponseBatching().install(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(
    options.module ?? AppModule,
    adapter,
    {
      // JSON lines from the first message on: a logger given later (useLogger, with bufferLogs)
      // left a start that failed — an unreachable database — printing Nest's coloured text.
      logger: options.logger === false ? false : new NestPinoLogger(createLogger(config.logLevel)),
      abortOnError: false,
    },
  );
  app.get(DatabaseLocator).superviseEmbedded();
  edge.observer = app.get(RequestObserver, { strict: false });
  drains.set(app, drain);

  // reply.sendFile for the console's built assets (ConsoleController picks the file and root).
  await app.register(fastifyStatic, { serve: false });

  const policy = app.get<ConfigType<typeof policyConfig>>(policyConfig.KEY);
  // JSON and form bodies (OAuth) with the edge checks: depth, control characters, UTF-8; query
  // and path parameters, and credential headers sent twice, too. Before any guard, pipe or
  // validator sees the request.
  installEdgeGuards(app, BODY_LIMIT, ['Authorization', policy.apiKeys.header]);

  app.useGlobalPipes(
    new StrictQueryValidationPipe({
      whitelist: true,
      // A body field the DTO does not declare is a 400 naming it, not dropped: `grant_types`
      // for `grantTypes` created a client without the grant asked for, and `{"x":1}` beside a
      // rotation's `mode` went unnoticed. (Handlers that take extras type their body `unknown`
      // or an interface, which this pipe leaves alone: the OAuth forms, which RFC 6749 §3.2
      // says must ignore unknown parameters, and the OpenAI surface, forwarded as sent.)
      forbidNonWhitelisted: true,
      // The DTO on each error (to suggest the field meant); values stay out of the errors.
      validationError: { target: true, value: false },
      stopAtFirstError: true,
      forbidUnknownValues: false,
      transform: true,
      exceptionFactory: (errors) => {
        const messages = errors.flatMap(function flatten(e): string[] {
          const own = Object.entries(e.constraints ?? {}).map(([name, message]) =>
            name === 'whitelistValidation' ? unknownField(e) : message,
          );
          return [...own, ...(e.children ?? []).flatMap(flatten)];
        });
        return new ValidationFailedError(
          messages.join('; ') || 'Invalid request body',
          errors[0] && fieldPath(errors[0]),
        );
      },
    }),
  );
  app.useGlobalFilters(new ProblemDetailsFilter());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Tessera')
      .setDescription('Token and access service for AI inference APIs')
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
      .addApiKey({ type: 'apiKey', in: 'header', name: policy.apiKeys.header }, 'api_key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: 'openapi.yaml',
  });
  return app;
}

/** TRUST_PROXY as a hop count: the `hops` nearest senders are proxies (as Fastify reads a number). */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}
