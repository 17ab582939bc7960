import { GatewayGrantDto } from '../../common/gateway-grant.dto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class CreateApiKeyDto extends GatewayGrantDto {
  @ApiProperty({ example: 'batch-agent' })
  @IsString({ message: 'name must be a string' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  @Matches(/\S/, { message: 'name must not be empty' })
  name: string;

  @ApiPropertyOptional({ example: ['operator'], description: 'default: the policy default_role' })
  @IsOptional()
  @ArrayMaxSize(50)
  @IsString({ each: true, message: 'roles must be a list of role names' })
  @IsArray({ message: 'roles must be a list of role names' })
  roles?: string[];
}
