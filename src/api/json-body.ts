// The JSON request body: UTF-8 JSON text and nothing else (RFC 8259 §8.1). fastify's own parser quietly
// skips a byte order mark and reads the body as UTF-8 whatever charset the content type names; here a body
// that starts with a byte order mark is refused (400 TW_ERR_VALIDATION), and so is a content type that
// names a charset other than UTF-8 (415 TW_ERR_UNSUPPORTED_MEDIA_TYPE). The rest is fastify's parser
// (its limits and its guard against __proto__ and constructor keys).
import type { FastifyInstance } from 'fastify';
import { TwError } from '../errors.js';

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/** charsetOf is the charset parameter of a content type, lower-cased, or undefined when it names none. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = CHARSET.exec(contentType ?? '');
  return m === null ? undefined : (m[1] ?? m[2] ?? '').toLowerCase();
}

/** useStrictJsonBodies replaces `app`'s application/json parser with the strict one described above. */
export function useStrictJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new TwError('TW_ERR_UNSUPPORTED_MEDIA_TYPE', `a JSON body must be UTF-8; the content type names charset ${JSON.stringify(charset)}`), undefined);
      return;
    }
    const text = body as string; // parseAs: 'string'
    if (text.startsWith('\uFEFF')) {
      done(new TwError('TW_ERR_VALIDATION', 'the JSON body starts with a byte order mark (U+FEFF); send UTF-8 JSON without one'), undefined);
      return;
    }
    void parse(request, text, done);
  });
}
