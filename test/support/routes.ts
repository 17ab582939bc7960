import type { INestApplication } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { readRouteRule } from '../../src/access/route-rule';

/** A route's decision as the snapshot records it. */
export interface RouteDecision {
  public: boolean;
  permissions?: string[];
  roles?: string[];
  scopes?: string[];
  clientAuthentication?: boolean;
}

export interface RouteInfo {
  method: string;
  path: string;
  handler: string;
  decision: RouteDecision;
}

function paths(value: string | string[] | undefined): string[] {
  return Array.isArray(value) ? value : [value ?? ''];
}

function joinPath(...parts: string[]): string {
  const segments = parts
    .filter((p): p is string => typeof p === 'string' && p !== '' && p !== '/')
    .map((p) => p.replace(/^\/+|\/+$/g, ''));
  return '/' + segments.join('/');
}

/**
 * Every HTTP route of the running app with its access decision, read from the same metadata the
 * global guards read (DiscoveryService over controllers, Reflector for the decorators).
 */
export function listRoutes(app: INestApplication): RouteInfo[] {
  // The app does not import DiscoveryModule; the same service over its modules container.
  const discovery = new DiscoveryService(app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const reflector = app.get(Reflector);
  const routes: RouteInfo[] = [];
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
    if (!controller || !wrapper.instance) continue;
    const base = Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined;
    const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name] as () => void;
      const methodCode = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodCode === undefined) continue;
      const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      for (const prefix of paths(base))
        for (const path of paths(sub))
          routes.push({
            method: RequestMethod[methodCode],
            path: joinPath(prefix, path),
            handler: `${controller.name}.${name}`,
            decision: decisionOf(readRouteRule(reflector, handler, controller)),
          });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

function decisionOf(rule: ReturnType<typeof readRouteRule>): RouteDecision {
  if (rule.kind === 'public') return { public: true };
  if (rule.kind === 'undeclared') return { public: false };
  return {
    public: false,
    permissions: rule.permissions,
    roles: rule.roles,
    scopes: rule.scopes,
    clientAuthentication: rule.clientAuthentication,
  };
}
