import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';

/** `POST /revoke`: exactly one of the three. */
export class RevokeDto {
  @ApiPropertyOptional({ description: 'Revoke every token issued to this client until now' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  client_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  jti?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 8192)
  token?: string;

  @ApiPropertyOptional({ description: 'Why (kept with the revocation and in the audit event)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  reason?: string;
}
