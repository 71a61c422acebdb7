import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { descriptionRecordJsonSchema } from './json-schema.ts';

// `npm run schema`: regenerate the checked-in JSON Schema from the TypeScript schema.
const target = fileURLToPath(new URL('./description-record.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(descriptionRecordJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
