import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';

/** What every token issued for a user carries: the user, its roles and the extra claims. */
abstract class UserTokenDto {
  @ApiProperty({ example: 'user123' })
  @IsString()
  @Length(1, 200)
  user_id: string;

  @ApiPropertyOptional({ example: ['operator'], description: 'At most the caller’s own' })
  @IsOptional()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @IsArray({ message: '$property must be an array of strings' })
  roles?: string[];

  @ApiPropertyOptional({ example: 'mainnet' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  network?: string;

  @ApiPropertyOptional({ example: 100 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  rate_limit?: number;
}

/** `POST /tokens`: an access token for a user, issued by a trusted service. */
export class IssueTokenDto extends UserTokenDto {
  @ApiPropertyOptional({ example: 3600, description: 'Seconds; defaults to ACCESS_TOKEN_TTL' })
  @IsOptional()
  @IsInt()
  @Min(1)
  expires_in?: number;

  @ApiPropertyOptional({ example: { network: 'mainnet' }, description: 'Extra claims' })
  @IsOptional()
  @IsObject()
  claims?: Record<string, unknown>;
}

/** `POST /token-pairs`: a long-lived parent and (optionally) its first short-lived child. */
export class IssuePairDto extends UserTokenDto {
  @ApiPropertyOptional({ example: 2592000, description: 'Seconds; defaults to PARENT_TOKEN_TTL' })
  @IsOptional()
  @IsInt()
  @Min(1)
  parent_expires_in?: number;

  @ApiPropertyOptional({ example: 900, description: 'Seconds; defaults to ACCESS_TOKEN_TTL' })
  @IsOptional()
  @IsInt()
  @Min(1)
  child_expires_in?: number;

  @ApiPropertyOptional({ example: true, default: true })
  @IsOptional()
  @IsBoolean()
  include_child?: boolean;
}

export class RenewDto {
  @ApiProperty({ description: 'The parent token' })
  @IsString()
  @Length(1, 8192)
  parent_token: string;
}

/** `POST /revoke`: exactly one of `jti`, `token` or `client_id` (everything of that client). */
