import { Reflector } from '@nestjs/core';

/** Opts a route (or controller) out of authentication. Every other route is protected by default. */
export const IsPublic = Reflector.createDecorator<boolean>();
export const Public = () => IsPublic(true);
