import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
} from 'class-validator';
import { GatewayGrantDto } from '../../common/gateway-grant.dto';
import { SUPPORTED_CLIENT_GRANTS } from '../clients.service';

export class CreateClientDto extends GatewayGrantDto {
  @ApiPropertyOptional({ example: 'inference-gateway', description: 'Generated when omitted' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, {
    message: 'id must be 1-128 characters of A-Z a-z 0-9 . _ : -',
  })
  id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ type: [String], example: ['operator'] })
  @IsOptional()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @IsArray({ message: '$property must be an array of strings' })
  roles?: string[];

  @ApiPropertyOptional({ type: [String], example: ['model:invoke'] })
  @IsOptional()
  @ArrayMaxSize(100)
  @Matches(/^[\x21\x23-\x5B\x5D-\x7E]+$/, {
    each: true,
    message: 'each scope must be a RFC 6749 scope token',
  })
  @IsArray({ message: '$property must be an array of strings' })
  scopes?: string[];

  @ApiPropertyOptional({ type: [String], example: ['client_credentials'] })
  @IsOptional()
  @IsIn(SUPPORTED_CLIENT_GRANTS, { each: true })
  @IsArray({ message: '$property must be an array of strings' })
  grantTypes?: string[];
}

export class UpdateClientDto extends GatewayGrantDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @IsArray({ message: '$property must be an array of strings' })
  roles?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @Matches(/^[\x21\x23-\x5B\x5D-\x7E]+$/, {
    each: true,
    message: 'each scope must be a RFC 6749 scope token',
  })
  @IsArray({ message: '$property must be an array of strings' })
  scopes?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsIn(SUPPORTED_CLIENT_GRANTS, { each: true })
  @IsArray({ message: '$property must be an array of strings' })
  grantTypes?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}
