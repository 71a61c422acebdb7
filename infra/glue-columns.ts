import { ConfigError, expected } from '#engine/index.ts';
import { descriptionRecordJsonSchema } from '#engine/record/index.ts';

/** A Glue (Hive DDL) column: the name is lower case, as Athena and the JSON SerDe fold keys. */
export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  readonly comment?: string;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  description?: string;
};

const SCALARS: Record<string, string> = {
  string: 'string',
  integer: 'bigint',
  number: 'double',
  boolean: 'boolean',
};

/**
 * The Hive type of a JSON schema node: objects with properties → struct, objects keyed by any
 * string (zod records) → map<string, …>, arrays → array<…>. A union (`value`: string | number |
 * boolean, a model's `dtype`: string | map) has no Hive type, so it becomes `string` and the SerDe
 * hands over the value's JSON text; search reads none of those.
 */
export function glueTypeOf(node: JsonSchema, where: string, options: { keepCase?: boolean } = {}): string {
  if (node.anyOf || Array.isArray(node.type)) return 'string';
  const fieldName = (name: string) => (options.keepCase ? name : name.toLowerCase());
  switch (node.type) {
    case 'object': {
      if (node.properties && Object.keys(node.properties).length > 0) {
        const fields = Object.entries(node.properties).map(
          ([name, child]) => `${fieldName(name)}:${glueTypeOf(child, `${where}.${name}`, options)}`,
        );
        return `struct<${fields.join(',')}>`;
      }
      if (node.additionalProperties && typeof node.additionalProperties === 'object') {
        return `map<string,${glueTypeOf(node.additionalProperties, `${where}.*`, options)}>`;
      }
      break;
    }
    case 'array':
      if (node.items) return `array<${glueTypeOf(node.items, `${where}[]`, options)}>`;
      break;
    default: {
      const scalar = node.type ? SCALARS[node.type] : undefined;
      if (scalar) return scalar;
    }
  }
  throw new ConfigError(expected('a JSON schema node with a Hive equivalent', where, JSON.stringify(node)));
}

/**
 * The description table's columns, generated from the record's JSON schema (one per top-level
 * field). `keepCase` keeps the record's camelCase names, for engines that match JSON keys exactly.
 */
export function descriptionTableColumns(
  schema: JsonSchema = descriptionRecordJsonSchema() as JsonSchema,
  options: { keepCase?: boolean } = {},
): GlueColumn[] {
  return Object.entries(schema.properties ?? {}).map(([name, node]) => ({
    name: options.keepCase ? name : name.toLowerCase(),
    type: glueTypeOf(node, name, options),
    ...(node.description ? { comment: node.description.slice(0, 255) } : {}),
  }));
}
