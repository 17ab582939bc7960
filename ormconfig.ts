import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './src/database/data-source.options';

/**
 * The DataSource for the TypeORM CLI (`npx typeorm -d dist/ormconfig.js migration:show`).
 * Same options as the app; `npx tessera migrate` also works with the embedded database.
 */
export default new DataSource(
  buildDataSourceOptions(
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tessera',
    'maintenance',
  ),
);
