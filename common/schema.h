/* schema.h: check frames against the JSON Schema documents in schemas/.
 *
 * One schema per frame type (schemas/<type>.json) plus shared ones
 * (tensor.json), draft 2020-12, written against the JSON view of a frame
 * (json.h). Only the keywords the schemas use are supported; loading a
 * schema with any other keyword fails, so nothing is silently ignored:
 *   type, properties, required, additionalProperties, items, enum, const,
 *   minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
 *   maxLength, minItems, maxItems, minProperties, maxProperties,
 *   $ref ("other.json", "#/$defs/NAME", "other.json#/$defs/NAME"), $defs,
 *   contentEncoding ("base64" only)
 * and the annotations title, description, $schema, $id, $comment,
 * examples, default, contentMediaType.
 *
 * MessagePack specifics: a bin matches exactly the schemas with
 * "contentEncoding": "base64" (and any schema without "type"); a str
 * never matches those. Integers match "integer" and "number"; floats
 * match "number", and "integer" when they have no fraction.
 *
 * Beyond JSON Schema: every value that matches tensor.json must also
 * decode with pfm_tensor_decode (payload length = prod(shape) x dtype
 * size), and a tile with encoding "rgb8" must carry height*width*3 pixel
 * bytes. */
#ifndef PFM_SCHEMA_H
#define PFM_SCHEMA_H

#include <msgpack.h>
#include <stddef.h>

#include "err.h"

/* The schemas compiled into the program (common/schemas_gen.c, written
 * by tools/embed-schemas.sh); ends with {NULL, NULL, 0}. */
struct pfm_schema_src {
	const char *name; /* file name without .json */
	const char *text;
	size_t length;
};

extern const struct pfm_schema_src pfm_schema_srcs[];

typedef struct pfm_schemas pfm_schemas;

/* Load every .json file in dir; dir NULL: the built-in copies. NULL on
 * error. */
pfm_schemas *pfm_schemas_load(const char *dir, pfm_err *e);

/* 0 if frame is valid for the schema named by its "type"; -1 with the
 * first problem and its path, e.g. "tile: .emb.uni.shape[1]: expected
 * integer, got string". */
int pfm_schemas_check(const pfm_schemas *s, const msgpack_object *frame,
		      pfm_err *e);

void pfm_schemas_free(pfm_schemas *s);

#endif
