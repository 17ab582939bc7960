import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString } from 'class-validator';

/**
 * The gateway narrowing a client or an API key may carry (checked in full by
 * `checkGatewayGrant`): null clears a member on update.
 */
export class GatewayGrantDto {
  @ApiPropertyOptional({
    type: [String],
    example: ['llama-*'],
    description: 'Models it may invoke (ids or globs), within what its roles allow',
  })
  @IsOptional()
  @ArrayMaxSize(100)
  @IsString({ each: true, message: 'models must be a list of model ids or globs' })
  @IsArray({ message: 'models must be a list of model ids or globs' })
  models?: string[] | null;

  @ApiPropertyOptional({ example: '100/minute', description: 'Its own request limit' })
  @IsOptional()
  @IsString()
  rate_limit?: string | null;

  @ApiPropertyOptional({ example: '20000/day', description: 'Prompt + completion tokens' })
  @IsOptional()
  @IsString()
  token_limit?: string | null;

  @ApiPropertyOptional({ example: '5/month', description: 'US dollars (gateway.prices)' })
  @IsOptional()
  @IsString()
  budget?: string | null;
}
