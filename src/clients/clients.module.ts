import { Logger, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { clientsConfig } from '../config/configuration';
import { developmentKeyEncryptionKey } from '../keys/key-encryption-key';
import { ClientEntity } from './client.entity';
import { ClientSecretHasher } from './client-secret';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';
import { RevocationModule } from '../revocation/revocation.module';

/**
 * The pepper of client-secret digests, kept outside the database: CLIENT_SECRET_PEPPER, else
 * derived from KEY_ENCRYPTION_KEY (development: the generated key in DATA_DIR), else, in
 * production with HS256 and no KEY_ENCRYPTION_KEY, from JWT_SECRET_KEY. Changing the source
 * invalidates stored client secrets (reset them), so set CLIENT_SECRET_PEPPER to rotate the
 * key-encryption key independently.
 */
function clientSecretHasher(config: ConfigType<typeof clientsConfig>): ClientSecretHasher {
  if (config.pepper) return new ClientSecretHasher(ClientSecretHasher.derivePepper(config.pepper));
  if (config.encryptionKey)
    return new ClientSecretHasher(ClientSecretHasher.derivePepper(config.encryptionKey));
  if (config.production && config.jwtSecretKey)
    return new ClientSecretHasher(
      ClientSecretHasher.derivePepper(Buffer.from(config.jwtSecretKey, 'utf8')),
    );
  if (config.production)
    throw new Error('Set CLIENT_SECRET_PEPPER or KEY_ENCRYPTION_KEY in production');
  new Logger('Clients').debug('Client-secret pepper derived from the development key in DATA_DIR');
  return new ClientSecretHasher(
    ClientSecretHasher.derivePepper(developmentKeyEncryptionKey(config.dataDir)),
  );
}

@Module({
  imports: [TypeOrmModule.forFeature([ClientEntity]), RevocationModule],
  controllers: [ClientsController],
  providers: [
    ClientsService,
    { provide: ClientSecretHasher, inject: [clientsConfig.KEY], useFactory: clientSecretHasher },
  ],
  exports: [ClientsService],
})
export class ClientsModule {}
