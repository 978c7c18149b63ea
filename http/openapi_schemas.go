package http

import (
	"time"

	"github.com/insiderone/ims"
)

func str(description string) obj { return obj{"type": "string", "description": description} }

func dateTime(description string) obj {
	return obj{"type": "string", "format": "date-time", "description": description}
}

func integer(description string) obj { return obj{"type": "integer", "description": description} }

func boolean(description string) obj { return obj{"type": "boolean", "description": description} }

func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// openAPISchemas mirrors the JSON of the ims types and this package's
// response types; the tests decode real answers and check them against it.
func openAPISchemas(queueModes []string) obj {
	statuses := make([]string, len(ims.Statuses))
	for i, s := range ims.Statuses {
		statuses[i] = string(s)
	}
	priorities := make([]string, len(ims.Priorities))
	for i, p := range ims.Priorities {
		priorities[i] = string(p)
	}
	return obj{
		"Priority": obj{"type": "string", "enum": priorities, "default": string(ims.DefaultPriority),
			"description": "Claim order: every due high message before any normal one, every normal before any low; oldest due first within one"},
		"Error": object([]string{"error"}, obj{
			"error":   str("What went wrong, safe to show"),
			"details": obj{"description": "Structured context; for validation, field → problem", "type": "object", "additionalProperties": true},
		}),
		"Status": obj{"type": "string", "enum": statuses},
		"MessageInput": obj{
			"type": "object", "required": []string{"phone_number", "content"}, "additionalProperties": false,
			"properties": obj{
				"phone_number": obj{"type": "string", "description": "E.164: + and 8 to 15 digits", "example": "+905551234567"},
				"content": obj{"type": "string", "example": "Hello from IMS!", "description": "At most MESSAGE_MAX_LENGTH characters (default 160); " +
					"not blank (white space and invisible characters such as U+200B count as blank); valid UTF-8 without NUL or control characters other than newline and tab"},
				"send_at":  dateTime("Deliver no earlier than this (RFC 3339); default now. At most 24h in the past and SEND_AT_HORIZON (default 8760h) ahead"),
				"priority": ref("Priority"),
				"ttl_seconds": obj{"type": "integer", "minimum": 1, "maximum": int64(ims.MaxTTL / time.Second),
					"description": "The message may wait this long to be sent, counted from when it is due (send_at, or now); past it, it is expired and never sent. Not with expires_at; default MESSAGE_TTL (0: never expires)"},
				"expires_at": dateTime("Not sent after this instant (RFC 3339): must lie ahead and after send_at, else 422. Not with ttl_seconds"),
				"quiet_hours": obj{"type": "boolean", "default": true,
					"description": "false opts the message out of QUIET_HOURS (it is sent at any local time of its recipient)"},
			},
		},
		"ReplayInput": obj{
			"type": "object", "additionalProperties": false,
			"description": "A new expiry: required to replay an expired message (409 without one), optional for a dead one. Not both fields; ttl_seconds counts from now",
			"properties": obj{
				"ttl_seconds": obj{"type": "integer", "minimum": 1, "maximum": int64(ims.MaxTTL / time.Second)},
				"expires_at":  dateTime("Must lie ahead"),
			},
		},
		"Message": object([]string{"id", "phone_number", "content", "status", "attempts", "created_at", "updated_at"}, obj{
			"id":              obj{"type": "string", "format": "uuid", "description": "UUIDv7; also the webhook Idempotency-Key"},
			"phone_number":    str("E.164 phone number"),
			"content":         str("The text"),
			"status":          ref("Status"),
			"priority":        ref("Priority"),
			"idempotency_key": str("The client's Idempotency-Key, if any"),
			"attempts":        integer("Delivery attempts started"),
			"held": integer("Attempts refunded because the provider, not the message, failed (an outage, a refused key, a throttle): " +
				"the retry budget spent is attempts - held"),
			"next_attempt_at":     dateTime("When the message is due (while sending: the lease deadline); absent on sent, dead and canceled messages"),
			"last_error":          str("Why the last attempt failed"),
			"provider_message_id": str("The webhook's messageId"),
			"send_at":             dateTime("Requested earliest delivery"),
			"sent_at":             dateTime("When the webhook accepted it"),
			"expires_at":          dateTime("Not sent after this; absent when the message never expires"),
			"created_at":          dateTime(""),
			"updated_at":          dateTime(""),
			// SMS-native (issue 10, parts 1-3)
			"encoding": obj{"type": "string", "enum": []string{string(ims.EncodingGSM7), string(ims.EncodingUCS2)},
				"description": "gsm7 when every character is in the GSM 03.38 default alphabet or its extension table, else ucs2"},
			"segments": obj{"type": "integer", "minimum": 1,
				"description": "SMS segments, as carriers count them: gsm7 160 septets in one, 153 per part (extension characters such as € take two); ucs2 70 UTF-16 units in one, 67 per part (most emoji take two)"},
			"country":     str("The recipient's ISO 3166-1 alpha-2 region from the number (libphonenumber); empty when none is known"),
			"time_zone":   str("The IANA time zone quiet hours use: the number's own when it maps to one, else QUIET_HOURS_DEFAULT_TZ"),
			"quiet_hours": boolean("false when the message opted out of quiet hours"),
		}),
		"MessagePage": object([]string{"messages"}, obj{
			"messages":    arrayOf(ref("Message")),
			"next_cursor": str("Pass as ?cursor= for the next page; absent on the last page"),
		}),
		"BatchResult": object([]string{"messages", "created"}, obj{
			"messages": arrayOf(ref("Message")),
			"created":  integer("How many messages were created"),
		}),
		"Attempt": object([]string{"id", "message_id", "number", "latency_ns", "outcome", "created_at"}, obj{
			"id": integer("Taken when the attempt was claimed, from the audit events' IDs: the attempt's message.claimed " +
				"event has this ID (and its message.sent event the next one)"),
			"message_id":  obj{"type": "string", "format": "uuid"},
			"number":      integer("1-based attempt number"),
			"status_code": integer("The webhook's HTTP status, absent when no answer came"),
			"latency_ns":  integer("Call duration in nanoseconds"),
			"error":       str("Why no answer came"),
			"response":    str("A bounded snippet of the answer body"),
			"outcome":     ref("Status"),
			"created_at":  dateTime("When the attempt finished (its outcome was recorded)"),
		}),
		"CacheInfo": object([]string{"enabled", "cached"}, obj{
			"enabled":             boolean("Whether a sent-cache (Redis) is configured"),
			"cached":              boolean("Whether the cache holds this message"),
			"provider_message_id": str("From the cache"),
			"sent_at":             dateTime("From the cache"),
			"error":               str("Set when the cache could not be asked; the request still succeeds"),
		}),
		"MessageDetail": object([]string{"message", "attempts", "cache"}, obj{
			"message": ref("Message"),
			"attempts": obj{"type": "array", "items": ref("Attempt"), "description": "Finished attempts, in the order " +
				"they finished. A claim still in flight, or handed back without a call (released, deferred, lease " +
				"expired), is not an attempt here; its message.claimed event is in the audit trail"},
			"cache": ref("CacheInfo"),
		}),
		"ReplayResult": object([]string{"replayed"}, obj{"replayed": integer("How many messages went back to pending")}),
		"ControlAction": obj{
			"type": "object", "required": []string{"action"}, "additionalProperties": false,
			"properties": obj{"action": obj{"type": "string", "enum": []string{actionStart, actionStop}}},
		},
		"SchedulerStatus": object([]string{"running", "interval", "batch_size", "queue_mode", "instance", "is_leader", "updated_at",
			"rate_limit", "effective_rate", "paused_until", "circuit"}, obj{
			"running":    boolean("Whether the fleet-wide scheduler is started"),
			"interval":   obj{"type": "string", "description": "Dispatch interval as a Go duration", "example": "2m0s"},
			"batch_size": integer("Messages per interval"),
			"queue_mode": queueMode(queueModes),
			"instance":   str("This instance's id"),
			"leader":     str("The instance that paces the fleet"),
			"is_leader":  boolean("Whether this instance is the leader"),
			"updated_at": dateTime("Last start or stop"),
			"updated_by": str("Who gave it"),
			"fleet":      ref("FleetConfirmation"),
			"rate_limit": obj{"type": "number", "description": "WEBHOOK_RATE_LIMIT: calls per second for the whole fleet, 0 for none"},
			"effective_rate": obj{"type": "number",
				"description": "The rate calls may start at now: the limit, less after a throttle (climbing back), 0 while paused or with no limit"},
			"paused_until": obj{"type": "string", "format": "date-time", "nullable": true,
				"description": "End of the fleet's pause after a 429 (or a 503 with Retry-After); null when none holds"},
			"circuit": obj{"type": "string", "enum": []string{string(ims.CircuitClosed), string(ims.CircuitOpen), string(ims.CircuitHalfOpen)},
				"description": "The fleet-wide circuit breaker"},
			"circuit_since":      dateTime("While the circuit is not closed: when the outage began"),
			"circuit_last_error": str("While the circuit is not closed: the provider failure that opened it, e.g. HTTP 401"),
		}),
		"FleetConfirmation": object([]string{"version", "confirmed", "timed_out"}, obj{
			"version": integer("The stop's state version"),
			"confirmed": obj{"type": "array", "items": obj{"type": "string"},
				"description": "Live instances (this one included) that applied the stop before it answered: they start no call"},
			"timed_out": obj{"type": "array", "items": obj{"type": "string"},
				"description": "Live instances that did not confirm within the bound; by then each has not read the state for too long and refuses calls on its own"},
		}),
		"AuditEvent": object([]string{"id", "type", "actor", "created_at"}, obj{
			"id":         integer(""),
			"type":       obj{"type": "string", "example": ims.EventMessageSent},
			"message_id": obj{"type": "string", "format": "uuid"},
			"actor":      str("Who caused it: api:<request id>, scheduler:<instance>, ..."),
			"details":    str(""),
			"created_at": dateTime(""),
		}),
		"AuditPage": object([]string{"events"}, obj{
			"events":      arrayOf(ref("AuditEvent")),
			"next_cursor": str("Pass as ?cursor= for the next page; absent on the last page"),
		}),
		"Health": object([]string{"status", "version", "components"}, obj{
			"status":     obj{"type": "string", "enum": []string{healthOK, healthDegraded, healthDown}},
			"version":    str(""),
			"components": obj{"type": "object", "additionalProperties": ref("Component")},
		}),
		"Component": object([]string{"status", "required"}, obj{
			"status": obj{"type": "string", "enum": []string{componentUp, componentDegraded, componentDown},
				"description": "degraded: working, but not well (the service is then degraded, 200, even for a required component)"},
			"required": boolean("A required component being down makes the service down (503)"),
			"detail":   str("What the check found; for webhook, the recent attempts and the last error (e.g. HTTP 401)"),
			"error":    str("Why a down component is down"),
		}),
		"Stats": object([]string{"counts", "refreshed_at", "rates", "webhook", "scheduler"}, obj{
			"counts": obj{"type": "object", "description": "Messages per status, fleet-wide, as of refreshed_at (every status present)",
				"additionalProperties": obj{"type": "integer"}, "example": obj{"pending": 3, "sending": 0, "sent": 120, "dead": 2, "canceled": 1, "expired": 0}},
			"refreshed_at": obj{"type": "string", "format": "date-time", "nullable": true,
				"description": "When counts were counted (every STATS_REFRESH); null before the first count"},
			"count_error": str("Set when the latest count failed (counts are then the previous ones) or none finished yet"),
			"rates": object([]string{"window", "delivered_per_second", "retried_per_second", "dead_per_second"}, obj{
				"window":               obj{"type": "string", "description": "The span averaged over, as a Go duration", "example": "1m0s"},
				"delivered_per_second": obj{"type": "number", "description": "This instance's deliveries"},
				"retried_per_second":   obj{"type": "number", "description": "This instance's attempts that will be retried"},
				"dead_per_second":      obj{"type": "number", "description": "This instance's attempts that dead-lettered their message"},
			}),
			"webhook": object([]string{"degraded", "detail", "recent_attempts", "recent_failures"}, obj{
				"degraded":        boolean("Most of this instance's recent attempts failed"),
				"detail":          str("One sentence naming the last error"),
				"last_error":      obj{"type": "string", "description": "Reason of the latest failed attempt", "example": "HTTP 401"},
				"recent_attempts": integer("Attempts in the window (the latest 20, at most 5 minutes old)"),
				"recent_failures": integer("Failed attempts in the window"),
			}),
			"scheduler": ref("SchedulerStatus"),
		}),
		"ConsoleSnapshot": obj{"allOf": []obj{ref("Stats"), object([]string{"generated_at", "backlog", "series", "instances"}, obj{
			"instances": obj{"type": "array", "description": "The instances sharing the database, by id, from their heartbeats (every 5 s; cached, read once per heartbeat by each instance, never per viewer). A clean shutdown removes its instance; one not seen for 50 s is pruned",
				"items": object([]string{"id", "started_at", "last_seen", "version", "queue_mode", "leader", "stale", "self"}, obj{
					"id":         str("INSTANCE_ID"),
					"started_at": dateTime("When the instance started"),
					"last_seen":  dateTime("Its last heartbeat, by the database's clock: compare with generated_at"),
					"version":    str("Its IMS version"),
					"queue_mode": queueMode(queueModes),
					"leader":     boolean("It held the leader lease at its last heartbeat"),
					"stale":      boolean("It missed its heartbeats for over 15 s at generated_at: likely gone"),
					"self":       boolean("It is the instance that served this snapshot"),
				})},
			"instances_error": str("Why the list is missing (not listed yet) or as of an earlier heartbeat (the latest failed)"),
			"generated_at":    dateTime("When the snapshot was assembled: a console compares it with its clock to tell a stale view"),
			"backlog":         integer("pending + sending, as of refreshed_at"),
			"series": object([]string{"end", "step", "step_seconds", "delivered_per_second", "retried_per_second", "dead_per_second", "expired_per_second", "latency_p50_ms", "latency_p95_ms", "backlog"}, obj{
				"end":                  dateTime("End of the last point (exclusive); the points run back 15 minutes from it, oldest first"),
				"step":                 obj{"type": "string", "description": "Width of one point, as a Go duration", "example": "5s"},
				"step_seconds":         integer("Width of one point, in seconds"),
				"delivered_per_second": obj{"type": "array", "items": obj{"type": "number"}, "description": "This instance's deliveries per second in each point"},
				"retried_per_second":   obj{"type": "array", "items": obj{"type": "number"}, "description": "This instance's attempts per second that will be retried"},
				"dead_per_second":      obj{"type": "array", "items": obj{"type": "number"}, "description": "This instance's dead-letterings per second"},
				"expired_per_second":   obj{"type": "array", "items": obj{"type": "number"}, "description": "This instance's expiries per second at delivery"},
				"latency_p50_ms":       obj{"type": "array", "items": obj{"type": "number", "nullable": true}, "description": "Median latency from create to delivery of the messages sent in each point (within 25 %), null where none was sent"},
				"latency_p95_ms":       obj{"type": "array", "items": obj{"type": "number", "nullable": true}, "description": "95th percentile of the same"},
				"backlog":              obj{"type": "array", "items": obj{"type": "integer", "nullable": true}, "description": "The backlog as last counted in each point, null where no count finished"},
			}),
		})}},
	}
}

// queueMode is the schema of a queue_mode: one of the modes the engine runs
// (Config.QueueModes), or any string when the server was given none.
func queueMode(modes []string) obj {
	if len(modes) == 0 {
		return obj{"type": "string"}
	}
	return obj{"type": "string", "enum": modes}
}
