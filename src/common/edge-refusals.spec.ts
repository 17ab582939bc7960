import type { Socket } from 'node:net';
import { EdgeRefusals, MAX_PARAM_LENGTH, parserProblem, routingProblem } from './edge-refusals';

function fakeSocket() {
  const written: string[] = [];
  const socket = {
    destroyed: false,
    writable: true,
    write: (text: string) => written.push(text),
    destroy: jest.fn(),
  };
  return { socket: socket as unknown as Socket & { destroy: jest.Mock }, written };
}

describe('EdgeRefusals', () => {
  it('names the problem of a refused path without quoting it', () => {
    expect(routingProblem({ code: 'FST_ERR_BAD_URL' })).toMatchObject({
      status: 400,
      code: 'validation_failed',
      detail: 'The request path is not a valid URL (malformed percent-encoding)',
    });
    expect(routingProblem({ code: 'FST_ERR_MAX_PARAM_LENGTH' })).toMatchObject({
      status: 414,
      title: 'URI Too Long',
      detail: `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
    });
  });

  it("names what the parser refused from its code, never from the request's bytes", () => {
    const detail = (code: string, reason = '') => parserProblem({ code, reason }).detail;
    expect(detail('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char')).toBe(
      'A request header value contains an invalid character (a control character)',
    );
    expect(detail('HPE_INVALID_HEADER_TOKEN', 'Invalid header token')).toBe(
      'A request header name contains an invalid character',
    );
    const smuggling = 'Transfer-Encoding and Content-Length together are not allowed';
    expect(
      detail(
        'HPE_INVALID_TRANSFER_ENCODING',
        "Transfer-Encoding can't be present with Content-Length",
      ),
    ).toBe(smuggling);
    expect(
      detail(
        'HPE_UNEXPECTED_CONTENT_LENGTH',
        "Content-Length can't be present with Transfer-Encoding",
      ),
    ).toBe(smuggling);
    expect(
      detail(
        'HPE_INVALID_CONTENT_LENGTH',
        "Content-Length can't be present with Transfer-Encoding",
      ),
    ).toBe(smuggling);
    expect(detail('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length')).toBe(
      'Content-Length is not a valid number',
    );
    expect(detail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length')).toBe(
      'Content-Length is sent more than once',
    );
    expect(parserProblem({ code: 'HPE_HEADER_OVERFLOW' })).toMatchObject({
      status: 431,
      detail: 'The request headers are too large (max 16 KB)',
    });
    expect(detail('HPE_SOMETHING_NEW')).toBe('The request is not valid HTTP/1.1');
  });

  it('answers bytes that are not HTTP with a problem, closes the connection, and reports it', () => {
    const sut = new EdgeRefusals();
    const observed: Array<[number, string | undefined]> = [];
    sut.observer = {
      refusedBeforeRouting: () => undefined,
      refusedUnparsed: (status, code) => observed.push([status, code]),
    };
    const { socket, written } = fakeSocket();
    const error = Object.assign(new Error('Parse Error: Invalid method'), {
      code: 'HPE_INVALID_METHOD',
    });
    sut.clientErrorHandler(error, socket);
    const [answer] = written;
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('Content-Type: application/problem+json\r\n');
    expect(answer).toContain('Connection: close\r\n');
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    expect(answer).toContain(`Content-Length: ${Buffer.byteLength(body)}\r\n`);
    expect(JSON.parse(body)).toEqual(parserProblem(error));
    expect(socket.destroy).toHaveBeenCalledWith(error);
    expect(observed).toEqual([[400, 'HPE_INVALID_METHOD']]);
  });

  it('says what a too-large header or a timeout is', () => {
    expect(parserProblem({ code: 'HPE_HEADER_OVERFLOW' })).toMatchObject({ status: 431 });
    expect(parserProblem({ code: 'ERR_HTTP_REQUEST_TIMEOUT' })).toMatchObject({ status: 408 });
  });

  it('writes nothing on a connection that was reset', () => {
    const sut = new EdgeRefusals();
    const { socket, written } = fakeSocket();
    sut.clientErrorHandler(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket);
    expect(written).toEqual([]);
    expect(socket.destroy).not.toHaveBeenCalled();
  });
});
