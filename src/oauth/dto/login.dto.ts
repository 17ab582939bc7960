import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

export class LoginDto {
  @ApiProperty({ example: 'ada@example.com' })
  @IsString()
  @Length(1, 320, { message: 'email must be 1 to 320 characters long' })
  email: string;

  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @Length(1, 1024, { message: 'password must be 1 to 1024 characters long' })
  password: string;
}
