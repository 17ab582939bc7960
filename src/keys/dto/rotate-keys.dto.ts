import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

export class RotateKeysDto {
  @ApiPropertyOptional({
    enum: ['soft', 'hard'],
    default: 'soft',
    description: 'soft: old keys verify until their tokens expire; hard: old tokens fail at once',
  })
  @IsOptional()
  @IsIn(['soft', 'hard'], { message: 'mode must be "soft" or "hard"' })
  mode?: 'soft' | 'hard';
}
