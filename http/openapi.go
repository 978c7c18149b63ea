package http

import (
	"encoding/json"
	"fmt"

	"github.com/insiderone/ims"
)

// The OpenAPI 3.0 document is written by hand in Go rather than as a JSON
// file so that shared pieces (errors, pagination, auth) are written once and
// the version comes from the build. It is NOT derived from the route table:
// TestOpenAPIMatchesRoutes compares the two independently, both ways.

// obj keeps the document literal readable.
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func arrayOf(items obj) obj { return obj{"type": "array", "items": items} }

func jsonContent(schema obj) obj {
	return obj{"application/json": obj{"schema": schema}}
}

// jsonResponse is a response with a JSON body.
func jsonResponse(description string, schema obj) obj {
	return obj{"description": description, "content": jsonContent(schema)}
}

// errorRef points at one of the shared error responses.
func errorRef(name string) obj { return obj{"$ref": "#/components/responses/" + name} }

// operation builds an operation; authed ones get the API key requirement and
// the 401 answer, and every one can fail with 500.
func operation(tag, summary string, authed bool, responses obj) obj {
	op := obj{"tags": []string{tag}, "summary": summary, "responses": responses}
	if authed {
		op["security"] = []obj{{"ApiKey": []string{}}}
		responses["401"] = errorRef("Unauthorized")
	} else {
		op["security"] = []obj{}
	}
	if _, ok := responses["500"]; !ok && tag != "docs" {
		responses["500"] = errorRef("Internal")
	}
	return op
}

func withParams(op obj, params ...obj) obj {
	op["parameters"] = params
	return op
}

func withBody(op obj, description string, schema obj) obj {
	op["requestBody"] = obj{"required": true, "description": description, "content": jsonContent(schema)}
	return op
}

// withOptionalBody is withBody for a body that may be left out.
func withOptionalBody(op obj, description string, schema obj) obj {
	op["requestBody"] = obj{"required": false, "description": description, "content": jsonContent(schema)}
	return op
}

func paramRef(name string) obj { return obj{"$ref": "#/components/parameters/" + name} }

// openAPIDocument renders the document. metrics says whether /metrics is
// served, the one route that depends on the wiring.
func openAPIDocument(version string, metrics bool, queueModes []string) ([]byte, error) {
	doc := obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":   "IMS - Insider Message Sender",
			"version": version,
			"description": "Stores messages and delivers them to a webhook with retries, dead letters and an audit trail.\n\n" +
				"Authenticate with `Authorization: <key>` or `Authorization: Bearer <key>`.\n\n" +
				"Errors are `{\"error\": \"...\", \"details\": ...}`. 400: the request cannot be understood " +
				"(malformed JSON, invalid UTF-8 or an unpaired \\uD800-\\uDFFF surrogate in the body, unknown fields, wrong types, " +
				"unknown, repeated or bad query parameters, unknown enumeration values). " +
				"Text (content, Idempotency-Key, every query value) must be valid UTF-8 without NUL or control characters " +
				"other than newline and tab. " +
				"422: a well-formed body whose messages break the rules; `details` maps each field to its problem " +
				"and nothing is stored. 413: body too large.",
		},
		"tags": []obj{
			{"name": "messages"}, {"name": "dead letters"}, {"name": "scheduler"},
			{"name": "audit"}, {"name": "operations"}, {"name": "docs"},
		},
		"paths":      openAPIPaths(metrics),
		"components": openAPIComponents(queueModes),
	}
	withDeliveryReports(doc) // deliveryreports in openapi_dlr.go
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render openapi document: %w", err)
	}
	return b, nil
}

func openAPIPaths(metrics bool) obj {
	paths := obj{
		"/": obj{"get": operation("operations", "The operator console (an HTML page; its data calls use the key)", false, obj{
			"200": obj{"description": "The console", "content": obj{"text/html": obj{"schema": obj{"type": "string"}}}},
		})},
		"/console/{file}": obj{"get": withParams(operation("docs", "A file of the operator console: console.js, console.css, favicon.svg (embedded, works offline)", false, obj{
			"200": obj{"description": "The file"},
			"404": obj{"description": "No such file"},
		}), obj{"name": "file", "in": "path", "required": true, "schema": obj{"type": "string"}})},
		"/api/health": obj{"get": operation("operations", "Service health and each component's status", false, obj{
			"200": jsonResponse("Every required component is up (status ok or degraded)", ref("Health")),
			"503": jsonResponse("A required component is down (status down)", ref("Health")),
		})},
		"/api/openapi.json": obj{"get": operation("docs", "This OpenAPI document", false, obj{
			"200": obj{"description": "The OpenAPI 3.0 document", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}},
		})},
		"/api/docs": obj{"get": operation("docs", "Swagger UI", false, obj{
			"200": obj{"description": "The Swagger UI page", "content": obj{"text/html": obj{"schema": obj{"type": "string"}}}},
		})},
		"/api/docs/{file}": obj{"get": withParams(operation("docs", "A Swagger UI asset (embedded, works offline)", false, obj{
			"200": obj{"description": "The asset"},
			"404": errorRef("NotFound"),
		}), obj{"name": "file", "in": "path", "required": true, "schema": obj{"type": "string"}, "example": "swagger-ui.css"})},
		"/api/messages": obj{
			"post": createMessageOp(),
			"get": withParams(operation("messages", "List messages, newest first", true, obj{
				"200": jsonResponse("One page of messages", ref("MessagePage")),
				"400": errorRef("BadRequest"),
			}), paramRef("Status"), paramRef("Priority"), paramRef("Limit"), paramRef("MessageCursor")),
		},
		"/api/messages/batch": obj{"post": createBatchOp()},
		"/api/messages/sent": obj{"get": withParams(operation("messages", "List sent messages, newest first", true, obj{
			"200": jsonResponse("One page of sent messages", ref("MessagePage")),
			"400": errorRef("BadRequest"),
		}), paramRef("Priority"), paramRef("Limit"), paramRef("MessageCursor"))},
		"/api/messages/dead-letter": obj{"get": withParams(operation("dead letters", "List dead-lettered messages (with last_error), newest first", true, obj{
			"200": jsonResponse("One page of dead messages", ref("MessagePage")),
			"400": errorRef("BadRequest"),
		}), paramRef("Priority"), paramRef("Limit"), paramRef("MessageCursor"))},
		"/api/messages/dead-letter/retry": obj{"post": withParams(operation("dead letters", "Replay dead-lettered messages, oldest first", true, obj{
			"200": jsonResponse("How many messages went back to pending", ref("ReplayResult")),
			"400": errorRef("BadRequest"),
		}), obj{"name": "limit", "in": "query", "description": fmt.Sprintf("At most this many messages (default %d)", ims.DefaultReplayLimit),
			"schema": obj{"type": "integer", "minimum": 1, "maximum": ims.MaxPageLimit, "default": ims.DefaultReplayLimit}})},
		"/api/messages/{id}": obj{
			"get": withParams(operation("messages", "One message with its delivery attempts and sent-cache entry", true, obj{
				"200": jsonResponse("The message", ref("MessageDetail")),
				"400": errorRef("BadRequest"),
				"404": errorRef("NotFound"),
			}), paramRef("MessageID")),
			"delete": withParams(operation("messages", "Cancel a pending message", true, obj{
				"200": jsonResponse("The canceled message", ref("Message")),
				"400": errorRef("BadRequest"),
				"404": errorRef("NotFound"),
				"409": errorRef("Conflict"),
			}), paramRef("MessageID")),
		},
		"/api/messages/{id}/retry": obj{"post": withOptionalBody(withParams(operation("dead letters",
			"Replay one dead-lettered or expired message (an expired one only with a new expiry)", true, obj{
				"200": jsonResponse("The message, pending again", ref("Message")),
				"400": errorRef("BadRequest"),
				"404": errorRef("NotFound"),
				"409": errorRef("Conflict"),
				"413": errorRef("TooLarge"),
				"422": errorRef("Unprocessable"),
			}), paramRef("MessageID")), "A new expiry; no body replays a dead message as it is", ref("ReplayInput"))},
		"/api/control": obj{
			"get": operation("scheduler", "Scheduler status", true, obj{
				"200": jsonResponse("The scheduler status", ref("SchedulerStatus")),
				"400": errorRef("BadRequest"),
			}),
			"post": withBody(operation("scheduler", "Start or stop the scheduler (fleet-wide, survives restarts)", true, obj{
				"200": jsonResponse("The scheduler status after the action", ref("SchedulerStatus")),
				"400": errorRef("BadRequest"),
				"413": errorRef("TooLarge"),
			}), "The action", ref("ControlAction")),
		},
		"/api/audit": obj{"get": withParams(operation("audit", "List audit events, newest first", true, obj{
			"200": jsonResponse("One page of audit events", ref("AuditPage")),
			"400": errorRef("BadRequest"),
		}),
			obj{"name": "type", "in": "query", "description": "Only events of this type; another value is a 400 that lists these",
				"schema": obj{"type": "string", "enum": ims.EventTypes}, "example": ims.EventMessageSent},
			obj{"name": "message_id", "in": "query", "description": "Only events of this message", "schema": obj{"type": "string", "format": "uuid"}},
			obj{"name": "since", "in": "query", "description": "Events at or after (RFC 3339)", "schema": obj{"type": "string", "format": "date-time"}},
			obj{"name": "until", "in": "query", "description": "Events before (RFC 3339)", "schema": obj{"type": "string", "format": "date-time"}},
			paramRef("Limit"),
			obj{"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": obj{"type": "string"}},
		)},
		"/api/stats": obj{"get": operation("operations", "Message counts, delivery rates, webhook and scheduler state for the console (cached: no query per request)", true, obj{
			"200": jsonResponse("The overview", ref("Stats")),
			"503": jsonResponse("Stats are not wired on this server", ref("Error")),
		})},
		"/api/console": obj{"get": operation("operations", "Everything the operator console shows besides the lists: the overview of /api/stats plus the backlog, the 15-minute series and the instances of the fleet (cached: no query per request)", true, obj{
			"200": jsonResponse("The console snapshot", ref("ConsoleSnapshot")),
			"503": jsonResponse("The console is not wired on this server", ref("Error")),
		})},
		"/api/console/stream": obj{"get": operation("operations", "Server-Sent Events: a `snapshot` event every second whose data is the JSON of GET /api/console, from one producer shared by all viewers (send the key in the Authorization header: read it with fetch, not EventSource)", true, obj{
			"200": obj{"description": "An event stream: `event: snapshot` / `data: <ConsoleSnapshot JSON>` once a second, until the client or the server goes",
				"content": obj{"text/event-stream": obj{"schema": obj{"type": "string"}}}},
			"503": jsonResponse("Too many open streams, the server is stopping, or the console is not wired: poll GET /api/console", ref("Error")),
		})},
	}
	if metrics {
		paths["/metrics"] = obj{"get": operation("operations", "Prometheus metrics", false, obj{
			"200": obj{"description": "Metrics in the Prometheus text format", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}},
		})}
	}
	return paths
}

func createMessageOp() obj {
	op := operation("messages", "Create a message", true, obj{
		"201": obj{"description": "Created", "content": jsonContent(ref("Message")),
			"headers": obj{"Location": obj{"schema": obj{"type": "string"}, "description": "URL of the new message"}}},
		"200": obj{"description": "An earlier request with the same Idempotency-Key created this message", "content": jsonContent(ref("Message")),
			"headers": obj{IdempotentReplayedHeader: obj{"schema": obj{"type": "string", "enum": []string{"true"}}}}},
		"400": errorRef("BadRequest"),
		"409": errorRef("Conflict"),
		"413": errorRef("TooLarge"),
		"422": errorRef("Unprocessable"),
	})
	withParams(op, obj{"name": IdempotencyKeyHeader, "in": "header", "required": false,
		"description": "Makes retries safe: the same key returns the same message; reusing it for another phone_number, content, send_at, priority or expiry is 409 (a ttl_seconds retried later keeps the first expiry). Valid UTF-8, no control characters.",
		"schema":      obj{"type": "string", "maxLength": 255}})
	return withBody(op, "The message", ref("MessageInput"))
}

func createBatchOp() obj {
	op := operation("messages", "Create up to MaxBatchSize messages at once, all or nothing", true, obj{
		"201": jsonResponse("The messages were stored (created counts the new ones)", ref("BatchResult")),
		"200": obj{"description": "An earlier request with the same Idempotency-Key created every message", "content": jsonContent(ref("BatchResult")),
			"headers": obj{IdempotentReplayedHeader: obj{"schema": obj{"type": "string", "enum": []string{"true"}}}}},
		"400": errorRef("BadRequest"),
		"409": errorRef("Conflict"),
		"413": errorRef("TooLarge"),
		"422": errorRef("Unprocessable"),
	})
	withParams(op, obj{"name": IdempotencyKeyHeader, "in": "header", "required": false,
		"description": "Makes retries safe: message i gets the key \"<key>#<i>\", so the same batch again returns the same messages. Batch keys have their own key space: a single create with the key \"<key>#<i>\" is another request.",
		"schema":      obj{"type": "string", "maxLength": 250}})
	return withBody(op, "The messages", obj{
		"type": "object", "required": []string{"messages"}, "additionalProperties": false,
		"properties": obj{"messages": arrayOf(ref("MessageInput"))},
	})
}

func openAPIComponents(queueModes []string) obj {
	return obj{
		"securitySchemes": obj{"ApiKey": obj{
			"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "The API key, alone or as \"Bearer <key>\".",
		}},
		"parameters": obj{
			"MessageID": obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}},
			"Limit": obj{"name": "limit", "in": "query", "description": "Page size",
				"schema": obj{"type": "integer", "minimum": 1, "maximum": ims.MaxPageLimit, "default": ims.DefaultPageLimit}},
			"MessageCursor": obj{"name": "cursor", "in": "query", "description": "next_cursor of the previous page",
				"schema": obj{"type": "string"}},
			"Status": obj{"name": "status", "in": "query", "description": "Only messages in this status",
				"schema": ref("Status")},
			"Priority": obj{"name": "priority", "in": "query", "description": "Only messages of this priority",
				"schema": ref("Priority")},
		},
		"responses": obj{
			"BadRequest":    jsonResponse("The request cannot be understood", ref("Error")),
			"Unauthorized":  jsonResponse("Missing or wrong API key", ref("Error")),
			"NotFound":      jsonResponse("No such resource", ref("Error")),
			"Conflict":      jsonResponse("The resource's state forbids the action", ref("Error")),
			"TooLarge":      jsonResponse("The request body is too large", ref("Error")),
			"Unprocessable": jsonResponse("Validation failed; details map each field to its problem; nothing was stored", ref("Error")),
			"Internal":      jsonResponse("Unexpected failure (details are in the server log)", ref("Error")),
		},
		"schemas": openAPISchemas(queueModes),
	}
}
