import {
  clearedSessionCookie,
  readSessionCookie,
  serializeSessionCookie,
  SESSION_COOKIE,
} from './session-cookie';

describe('console session cookie', () => {
  it('is HttpOnly, SameSite=Strict and scoped to the session path', () => {
    const sut = serializeSessionCookie('rt_abc', { maxAgeSeconds: 60, secure: false });
    expect(sut).toBe(
      `${SESSION_COOKIE}=rt_abc; Path=/console/api/session; Max-Age=60; HttpOnly; SameSite=Strict`,
    );
  });

  it('adds Secure when the request came over TLS', () => {
    expect(serializeSessionCookie('rt_abc', { maxAgeSeconds: 60, secure: true })).toMatch(
      /; Secure$/,
    );
  });

  it('clears with an empty value and Max-Age=0', () => {
    expect(clearedSessionCookie(false)).toMatch(new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`));
  });

  it('reads its own cookie among others and ignores look-alikes', () => {
    expect(readSessionCookie(`a=1; ${SESSION_COOKIE}=rt_x; b=2`)).toBe('rt_x');
    expect(readSessionCookie(`x${SESSION_COOKIE}=rt_y`)).toBeUndefined();
    expect(readSessionCookie(`${SESSION_COOKIE}=`)).toBeUndefined();
    expect(readSessionCookie(undefined)).toBeUndefined();
    expect(readSessionCookie([`${SESSION_COOKIE}=rt_z`])).toBe('rt_z');
  });
});
