import { Command } from 'nest-commander';
import { TesseraCommand } from './tessera-command';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../database/data-source.options';
import { DatabaseLocator } from '../database/database-locator';
import { runMigrationsLocked } from '../database/migrate';

@Command({
  name: 'migrate',
  description:
    'Run pending database migrations (the server also runs them at start). With DATABASE_URL unset it uses the embedded PostgreSQL in DATA_DIR, so stop the server first.',
})
export class MigrateCommand extends TesseraCommand {
  constructor(private readonly locator: DatabaseLocator) {
    super();
  }

  async run(): Promise<void> {
    const dataSource = new DataSource(
      buildDataSourceOptions(await this.locator.url(), 'maintenance'),
    );
    await dataSource.initialize();
    try {
      const applied = await runMigrationsLocked(dataSource);
      process.stdout.write(
        applied.length
          ? applied.map((m) => `applied ${m.name}`).join('\n') + '\n'
          : 'database is up to date\n',
      );
    } finally {
      await dataSource.destroy();
    }
  }
}
