import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class CreateRoleDto {
  @ApiProperty({ example: 'auditor' })
  @IsString({ message: 'name must be a string' })
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'name: letters, digits, _ . : - (at most 64)' })
  name: string;

  @ApiProperty({ example: ['audit:read', 'view_metrics'], description: '`*` and `prefix:*` work' })
  @ArrayMaxSize(200)
  @IsString({ each: true, message: 'permissions must be a list of permission names' })
  @IsArray({ message: 'permissions must be a list of permission names' })
  permissions: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  @MaxLength(500)
  description?: string;
}

export class UpdateRoleDto {
  @ApiPropertyOptional({ example: ['invoke'] })
  @IsOptional()
  @ArrayMaxSize(200)
  @IsString({ each: true, message: 'permissions must be a list of permission names' })
  @IsArray({ message: 'permissions must be a list of permission names' })
  permissions?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  @MaxLength(500)
  description?: string;
}
