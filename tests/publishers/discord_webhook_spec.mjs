// Writes an OpenAPI 3.1 document with Discord's webhook paths to the file named
// by $SPEC_OUT, for Prism. The schemas are the discord-api-spec package's Zod
// schemas (generated from Discord's official OpenAPI document) turned back into
// JSON Schema. Strict, which Discord's document is not (it leaves additional
// properties open): Discord ignores a field it does not define, so a misspelt
// one would be lost without a word; here it fails validation. The path and
// query parameters are written out from the package's `Paths` type
// (`/webhooks/{webhook_id}/{webhook_token}`), which has no runtime form.
// Run from .ci/cache/peers (stdin, --input-type=module) so the imports resolve.
import { writeFileSync } from "node:fs";
import * as z from "zod/mini";
import * as discord from "discord-api-spec/zod";

discord.setStrictObject(true);

// Recursive schemas come out with local `$defs`; Prism resolves `$ref`s against
// the whole document, so they move to components/schemas under unique names.
const components = {};
let converted = 0;
const json = (schema) => {
  const { $schema, $defs = {}, ...out } = z.toJSONSchema(schema, {
    cycles: "ref",
    unrepresentable: "any",
  });
  const prefix = `S${converted++}_`;
  const relink = (node) => {
    if (Array.isArray(node)) return node.map(relink);
    if (node === null || typeof node !== "object") return node;
    const copy = {};
    for (const [key, value] of Object.entries(node)) {
      copy[key] =
        key === "$ref" && typeof value === "string" && value.startsWith("#/$defs/")
          ? `#/components/schemas/${prefix}${value.slice("#/$defs/".length)}`
          : relink(value);
    }
    return copy;
  };
  for (const [name, def] of Object.entries($defs)) components[prefix + name] = relink(def);
  return relink(out);
};
const body = (schema) => ({ content: { "application/json": { schema: json(schema) } } });
// Prism makes up an answer from the response schema within a fixed budget; the
// whole message schema exceeds it ("schema too complex"), so a success answer
// keeps only the required properties (at every depth), which Discord always sends.
const requiredOnly = (node) => {
  if (Array.isArray(node)) return node.map(requiredOnly);
  if (node === null || typeof node !== "object") return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties") {
      const keep = new Set(node.required || []);
      copy.properties = Object.fromEntries(
        Object.entries(value)
          .filter(([name]) => keep.has(name))
          .map(([name, sub]) => [name, requiredOnly(sub)]),
      );
    } else {
      copy[key] = requiredOnly(value);
    }
  }
  return copy;
};
const answer = (schema) => ({
  content: { "application/json": { schema: requiredOnly(json(schema)) } },
});
const snowflake = json(discord.SnowflakeTypeSchema);
const pathParameters = [
  { name: "webhook_id", in: "path", required: true, schema: snowflake },
  { name: "webhook_token", in: "path", required: true, schema: { type: "string" } },
];
const errors = {
  429: { description: "Client ratelimited response", ...body(discord.RatelimitedResponseSchema) },
  "4XX": { description: "Client error response", ...body(discord.ErrorResponseSchema) },
};
const webhook = z.union([
  discord.ApplicationIncomingWebhookResponseSchema,
  discord.ChannelFollowerWebhookResponseSchema,
  discord.GuildIncomingWebhookResponseSchema,
]);

const document = {
  openapi: "3.1.0",
  info: { title: "Discord webhooks (trimmed from discord-api-spec)", version: "10" },
  servers: [{ url: "/" }],
  paths: {
    "/webhooks/{webhook_id}/{webhook_token}": {
      parameters: pathParameters,
      get: {
        operationId: "get_webhook_by_token",
        responses: {
          200: { description: "200 response for get_webhook_by_token", ...answer(webhook) },
          ...errors,
        },
      },
      post: {
        operationId: "execute_webhook",
        parameters: [
          { name: "wait", in: "query", schema: { type: "boolean" } },
          { name: "thread_id", in: "query", schema: snowflake },
          { name: "with_components", in: "query", schema: { type: "boolean" } },
        ],
        requestBody: {
          required: true,
          ...body(
            z.union([
              discord.IncomingWebhookRequestPartialSchema,
              discord.IncomingWebhookUpdateRequestPartialSchema,
            ]),
          ),
        },
        responses: {
          200: {
            description: "200 response for execute_webhook",
            ...answer(discord.MessageResponseSchema),
          },
          204: { description: "204 response for execute_webhook" },
          ...errors,
        },
      },
    },
  },
  components: { schemas: components },
};

writeFileSync(process.env.SPEC_OUT, JSON.stringify(document));
