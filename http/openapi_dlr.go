package http

import (
	"fmt"

	"github.com/insiderone/ims"
)

// withDeliveryReports adds to doc what delivery reports and status
// callbacks bring: the endpoint and its key, the message fields, the
// delivery_status filter. Kept apart so that the rest of the document reads
// as before.
func withDeliveryReports(doc obj) {
	components := doc["components"].(obj)
	components["securitySchemes"].(obj)["DlrKey"] = obj{
		"type": "apiKey", "in": "header", "name": DLRAuthHeader,
		"description": "DLR_AUTH_KEY, sent by the provider; \"Authorization: <key>\" or \"Authorization: Bearer <key>\" work too.",
	}
	components["parameters"].(obj)["DeliveryStatus"] = obj{"name": "delivery_status", "in": "query",
		"description": "Only messages with this delivery status (none: no report applied yet)",
		"schema":      obj{"type": "string", "enum": []string{string(ims.DeliveryDelivered), string(ims.DeliveryUndelivered), ims.DeliveryStatusNone}}}

	components["parameters"].(obj)["PhoneNumber"] = obj{"name": "phone_number", "in": "query",
		"description": "Only messages to this number, exact match, in E.164 shape like phone_number on create (encode + as %2B); combines with the other filters and the cursor",
		"schema":      obj{"type": "string", "pattern": `^\+[1-9][0-9]{7,14}$`, "example": "+905551234567"}}

	schemas := components["schemas"].(obj)
	msg := schemas["Message"].(obj)["properties"].(obj)
	msg["delivery_status"] = obj{"type": "string", "enum": []string{"", string(ims.DeliveryDelivered), string(ims.DeliveryUndelivered)},
		"description": "What the provider's delivery report said: \"\" until one applies; refines sent and never changes status"}
	msg["delivered_at"] = dateTime("The delivered report's time")
	msg["error_code"] = str("An undelivered report's error code")
	msg["callback_url"] = str("Where this message's status callbacks go; absent: STATUS_CALLBACK_URL")
	schemas["MessageInput"].(obj)["properties"].(obj)["callback_url"] = obj{"type": "string", "format": "uri", "maxLength": ims.MaxCallbackURLLength,
		"description": "http(s) URL for this message's status callbacks (sent, dead, expired, canceled, delivery reports); default STATUS_CALLBACK_URL",
		"example":     "https://example.com/ims-status"}
	report := object([]string{"messageId", "status"}, obj{
		"messageId":  obj{"type": "string", "maxLength": ims.MaxProviderMessageIDLength, "description": "The provider's id, as its send answer gave it (matched exactly)"},
		"status":     obj{"type": "string", "enum": ims.ReportStatuses, "description": "failed means undelivered"},
		"error_code": obj{"type": "string", "maxLength": ims.MaxErrorCodeLength},
		"timestamp":  dateTime("When the provider saw the outcome (RFC 3339); default: when IMS received the report. Orders out-of-order reports"),
	})
	schemas["DeliveryReport"] = report
	schemas["DeliveryReportResults"] = object([]string{"reports", "applied", "parked", "ignored"}, obj{
		"reports": arrayOf(object([]string{"messageId", "outcome"}, obj{
			"messageId":  str(""),
			"outcome":    obj{"type": "string", "enum": []string{string(ims.ReportApplied), string(ims.ReportIgnored), string(ims.ReportDuplicate), string(ims.ReportParked)}},
			"message_id": obj{"type": "string", "format": "uuid", "description": "The IMS message the report is tied to"},
		})),
		"applied": integer("Reports that changed a message"),
		"parked":  integer("Reports for a provider id no message has yet: kept for DLR_PARK_TTL and applied if it appears"),
		"ignored": integer("Duplicates and reports superseded by an earlier one"),
	})

	paths := doc["paths"].(obj)
	list := paths["/api/messages"].(obj)["get"].(obj)
	list["parameters"] = append(list["parameters"].([]obj), paramRef("DeliveryStatus"), paramRef("PhoneNumber"))
	op := obj{
		"tags": []string{"delivery reports"}, "summary": "Take the provider's delivery reports: one object or an array (all or nothing)",
		"security": []obj{{"DlrKey": []string{}}},
		"responses": obj{
			"200": jsonResponse("Every report was applied, or was a duplicate or superseded", ref("DeliveryReportResults")),
			"202": jsonResponse("Some reports name a provider id no message has yet: they are kept and applied when it appears", ref("DeliveryReportResults")),
			"400": errorRef("BadRequest"),
			"401": jsonResponse("Missing or wrong DLR_AUTH_KEY", ref("Error")),
			"413": errorRef("TooLarge"),
			"422": errorRef("Unprocessable"),
			"503": jsonResponse("Delivery reports are off: DLR_AUTH_KEY is not set", ref("Error")),
			"500": errorRef("Internal"),
		},
	}
	withBody(op, fmt.Sprintf("One report or an array of up to %d", ims.MaxDeliveryReports), obj{"oneOf": []obj{ref("DeliveryReport"), arrayOf(ref("DeliveryReport"))}})
	paths["/api/delivery-reports"] = obj{"post": op}
	doc["tags"] = append(doc["tags"].([]obj), obj{"name": "delivery reports"})
}
