import fs from 'node:fs';
import path from 'node:path';
import { SERVICE_APIS, apiDocument } from '@ecom/gateway';
import { buildPostman } from './postman';

/** `npm run postman`: writes docs/postman/collection.json and environment.json. */
const dir = path.resolve(__dirname, '../../docs/postman');
const { collection, environment } = buildPostman(apiDocument(SERVICE_APIS));
fs.writeFileSync(path.join(dir, 'collection.json'), `${JSON.stringify(collection, null, 2)}\n`);
fs.writeFileSync(path.join(dir, 'environment.json'), `${JSON.stringify(environment, null, 2)}\n`);
process.stdout.write(
  `wrote ${path.relative(process.cwd(), dir)}/collection.json and environment.json\n`,
);
