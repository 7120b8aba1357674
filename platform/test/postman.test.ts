import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { SERVICE_APIS, apiDocument } from '@ecom/gateway';
import { jsonSchemaOf } from '@ecom/test-support';
import { buildPostman, FLOW, operationFor } from '../src/postman';

const dir = path.resolve(__dirname, '../../docs/postman');
const document = apiDocument(SERVICE_APIS);

// Values standing in for the collection's variables when a body is checked against its schema.
const SAMPLES: Record<string, string> = {
  productId: '665f1c2b9a1e4d3c2b1a0f9e',
  customerEmail: 'postman@example.com',
  customerPassword: 'Postman#2026demo',
  refreshToken: 'A'.repeat(43),
  cartToken: `ct_${'A'.repeat(43)}`,
  sellerEmail: 'seller@example.com',
  sellerPassword: 'Seller#2026demo',
};
const substitute = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value).replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
      if (!(name in SAMPLES)) throw new Error(`no sample for {{${name}}}`);
      return SAMPLES[name]!;
    }),
  );

describe('the Postman collection', () => {
  it('is what `npm run postman` generates from the API specs (regenerate after changing a route)', () => {
    const { collection, environment } = buildPostman(document);
    const read = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    expect(read('collection.json')).toEqual(JSON.parse(JSON.stringify(collection)));
    expect(read('environment.json')).toEqual(environment);
  });

  it('sends every request to an operation of the API, with a body its schema accepts', () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    let bodies = 0;
    for (const folder of FLOW) {
      for (const request of folder.requests) {
        const found = operationFor(
          document,
          request.method,
          request.path.replace(/\{\{[^}]+\}\}/g, 'x'),
        );
        expect({ request: `${request.method} ${request.path}`, found: Boolean(found) }).toEqual({
          request: `${request.method} ${request.path}`,
          found: true,
        });
        const schema = (
          found!.operation.requestBody as
            { content: { 'application/json'?: { schema: object } } } | undefined
        )?.content['application/json']?.schema;
        if (request.body !== undefined && schema) {
          const validate = ajv.compile(jsonSchemaOf(schema) as object);
          const ok = validate(substitute(request.body));
          expect({ request: request.name, errors: ok ? null : validate.errors }).toEqual({
            request: request.name,
            errors: null,
          });
          bodies += 1;
        }
      }
    }
    expect(bodies).toBeGreaterThan(8);
  });

  it('refuses to build a request for a route the API does not have', () => {
    const trimmed = { ...document, paths: { ...(document.paths as object), '/api/comments': {} } };
    expect(() => buildPostman(trimmed)).toThrow(
      'Postman: POST /api/comments is not an operation of the API',
    );
  });
});
