import type { Provider } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createLogger } from '../common/logger';
import { appConfig } from '../config/configuration';

/** The app's pino logger (JSON lines on stdout at LOG_LEVEL): Nest's messages and request lines. */
export const APP_LOGGER = Symbol('APP_LOGGER');

export const appLoggerProvider: Provider = {
  provide: APP_LOGGER,
  inject: [appConfig.KEY],
  useFactory: (app: ConfigType<typeof appConfig>) => createLogger(app.logLevel),
};
