import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';
import type { ExecutionContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { readRouteRule, type RouteRule } from '../access/route-rule';

/**
 * Every route's rule, worked out once at start from its decorators (DiscoveryService over the
 * controllers) and looked up by handler on each request: no metadata is read per request. The
 * authentication guard looks the rule up and leaves it on the request for the two guards after it.
 */
@Injectable()
export class RouteRules implements OnApplicationBootstrap {
  private readonly byHandler = new WeakMap<object, RouteRule>();

  constructor(
    private readonly reflector: Reflector,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as object | undefined;
      if (!controller || !wrapper.instance) continue;
      const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, object>;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        this.byHandler.set(handler, readRouteRule(this.reflector, handler, controller));
      }
    }
  }

  /** The rule of the route a request was routed to. */
  of(context: ExecutionContext): RouteRule {
    const handler = context.getHandler();
    let rule = this.byHandler.get(handler);
    if (!rule) {
      // A route registered after start (none in Tessera; a test module may add one).
      rule = readRouteRule(this.reflector, handler, context.getClass());
      this.byHandler.set(handler, rule);
    }
    return rule;
  }
}
