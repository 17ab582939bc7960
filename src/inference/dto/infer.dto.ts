import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/**
 * The `POST /v1/infer` body as documented in OpenAPI. The route checks it with
 * InferBodyPipe (infer-body.pipe.ts) (same rules and messages); class-validator evaluates decorators bottom-up,
 * so the string check is the last one written.
 */
export class InferDto {
  @ApiProperty({ example: 'Hello from Tessera', maxLength: 100_000 })
  @MaxLength(100_000)
  @IsNotEmpty({ message: 'prompt must not be empty' })
  @IsString({ message: 'prompt must be a string' })
  prompt: string;
}
