package ims

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DeliveryStatus refines StatusSent with what the provider's delivery
// report said. It never changes Status: a sent message stays sent, so the
// lists of sent messages keep their meaning.
//
//	"" (no report yet) ──delivered──▶ delivered (final)
//	        │                              ▲
//	        └──undelivered|failed──▶ undelivered ──newer undelivered──▶ undelivered
type DeliveryStatus string

const (
	// DeliveryNone is a message without an applied report: not sent yet,
	// or sent and waiting for its receipt. The filter spells it "none".
	DeliveryNone        DeliveryStatus = ""
	DeliveryDelivered   DeliveryStatus = "delivered"
	DeliveryUndelivered DeliveryStatus = "undelivered"
)

// ReportFailed is a provider's other word for undelivered in a report.
const ReportFailed = "failed"

// ReportStatuses are the statuses a delivery report may carry.
var ReportStatuses = []string{string(DeliveryDelivered), string(DeliveryUndelivered), ReportFailed}

// DeliveryStatusNone is how GET /api/messages?delivery_status= names
// DeliveryNone.
const DeliveryStatusNone = "none"

// ParseDeliveryFilter reads the delivery_status filter: delivered,
// undelivered or none. An empty value filters nothing (ok, none=false).
func ParseDeliveryFilter(s string) (d DeliveryStatus, set bool, err error) {
	switch s {
	case "":
		return "", false, nil
	case DeliveryStatusNone:
		return DeliveryNone, true, nil
	case string(DeliveryDelivered), string(DeliveryUndelivered):
		return DeliveryStatus(s), true, nil
	}
	return "", false, Errorf(EINVALID, "unknown delivery_status %q: want delivered, undelivered or none", s)
}

// MaxDeliveryReports bounds one POST /api/delivery-reports.
const MaxDeliveryReports = 1000

// MaxProviderMessageIDLength bounds a report's messageId.
const MaxProviderMessageIDLength = 255

// MaxErrorCodeLength bounds a report's error_code.
const MaxErrorCodeLength = 64

// DeliveryReportInput is one report as the provider sent it.
type DeliveryReportInput struct {
	MessageID *string `json:"messageId"`
	Status    *string `json:"status"`
	ErrorCode *string `json:"error_code,omitempty"`
	Timestamp *string `json:"timestamp,omitempty"`
}

// DeliveryReport is a validated report.
type DeliveryReport struct {
	// ProviderMessageID is matched exactly (byte for byte) against the
	// provider id stored on a message: providers' ids are case-sensitive.
	ProviderMessageID string
	// Status is the report mapped to a delivery status: failed is
	// undelivered (the error code tells them apart).
	Status DeliveryStatus
	// Reported is the status as the provider wrote it (delivered,
	// undelivered, failed): it is part of the report's identity.
	Reported  string
	ErrorCode string
	// At orders reports: the provider's timestamp, or ReceivedAt when it
	// gave none.
	At time.Time
	// Timestamped tells that At came from the provider. Two reports are
	// the same report (a redelivery, answered as a duplicate) when id,
	// reported status, error code and the provider's timestamp (or the
	// lack of one) agree.
	Timestamped bool
	ReceivedAt  time.Time
}

// ValidateDeliveryReports validates a whole POST body before anything is
// stored: one bad report rejects them all (EINVALID with "reports[i].field"
// details when the body was an array, batch; "field" for a single object),
// so a provider's retry of the fixed batch is never half applied.
func ValidateDeliveryReports(items []DeliveryReportInput, batch bool, now time.Time) ([]DeliveryReport, error) {
	if len(items) == 0 || len(items) > MaxDeliveryReports {
		return nil, &Error{Code: EINVALID, Message: "invalid delivery reports",
			Details: map[string]string{"reports": fmt.Sprintf("must hold 1 to %d reports, got %d", MaxDeliveryReports, len(items))}}
	}
	now = now.UTC().Truncate(time.Microsecond)
	out := make([]DeliveryReport, len(items))
	problems := map[string]string{}
	for i, in := range items {
		prefix := ""
		if batch {
			prefix = fmt.Sprintf("reports[%d].", i)
		}
		r, p := in.validate(now)
		for field, why := range p {
			problems[prefix+field] = why
		}
		out[i] = r
	}
	if len(problems) > 0 {
		msg := "invalid delivery report"
		if batch {
			msg = "invalid delivery reports: none was stored"
		}
		return nil, &Error{Code: EINVALID, Message: msg, Details: problems}
	}
	return out, nil
}

func (in DeliveryReportInput) validate(now time.Time) (DeliveryReport, map[string]string) {
	problems := map[string]string{}
	r := DeliveryReport{ReceivedAt: now, At: now}
	switch {
	case in.MessageID == nil || *in.MessageID == "":
		problems["messageId"] = "is required"
	case len(*in.MessageID) > MaxProviderMessageIDLength:
		problems["messageId"] = fmt.Sprintf("must be at most %d bytes", MaxProviderMessageIDLength)
	case CheckText(*in.MessageID) != "":
		problems["messageId"] = CheckText(*in.MessageID)
	default:
		r.ProviderMessageID = *in.MessageID
	}
	switch {
	case in.Status == nil || *in.Status == "":
		problems["status"] = "is required: delivered, undelivered or failed"
	default:
		s := strings.ToLower(*in.Status)
		switch s {
		case string(DeliveryDelivered):
			r.Status = DeliveryDelivered
		case string(DeliveryUndelivered), ReportFailed:
			r.Status = DeliveryUndelivered
		default:
			problems["status"] = fmt.Sprintf("unknown status %q: want delivered, undelivered or failed", *in.Status)
		}
		r.Reported = s
	}
	if in.ErrorCode != nil {
		switch {
		case len(*in.ErrorCode) > MaxErrorCodeLength:
			problems["error_code"] = fmt.Sprintf("must be at most %d bytes", MaxErrorCodeLength)
		case CheckText(*in.ErrorCode) != "":
			problems["error_code"] = CheckText(*in.ErrorCode)
		default:
			r.ErrorCode = *in.ErrorCode
		}
	}
	if in.Timestamp != nil && *in.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, *in.Timestamp)
		if err != nil {
			problems["timestamp"] = "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"
		} else {
			r.At, r.Timestamped = t.UTC().Truncate(time.Microsecond), true
		}
	}
	return r, problems
}

// DeliveryState is what a message holds of its reports.
type DeliveryState struct {
	Status DeliveryStatus
	// ReportedAt is the At of the report applied last (nil: none).
	ReportedAt *time.Time
}

// Supersedes reports whether r replaces the delivery state cur. The rule
// gives the same final state whatever order reports arrive in (so a report
// parked before the provider id was stored ends where it would have ended
// live):
//   - any report applies to a message without one;
//   - delivered is final: the handset has the text and no later
//     report undoes that, least of all an older undelivered;
//   - delivered replaces undelivered (a carrier retry got it through);
//   - a newer undelivered replaces an older one (its error code is the
//     latest word); an older or equally old one does not.
//
// The stores apply the same rule in SQL (DeliveryRuleSQL's comment); the
// storetest suite holds them to this function.
func (r DeliveryReport) Supersedes(cur DeliveryState) bool {
	switch cur.Status {
	case DeliveryNone:
		return true
	case DeliveryDelivered:
		return false
	}
	if r.Status == DeliveryDelivered {
		return true
	}
	return cur.ReportedAt == nil || r.At.After(*cur.ReportedAt)
}

// ReportOutcome tells what recording one report did.
type ReportOutcome string

const (
	// ReportApplied: the report changed its message's delivery status.
	ReportApplied ReportOutcome = "applied"
	// ReportIgnored: its message exists but already holds a report that
	// supersedes it (see Supersedes); it is kept on record.
	ReportIgnored ReportOutcome = "ignored"
	// ReportDuplicate: the same report was recorded before; nothing changed.
	ReportDuplicate ReportOutcome = "duplicate"
	// ReportParked: no message has that provider id (yet). The report is
	// kept and applied when a message gets the id, or purged after
	// DLR_PARK_TTL.
	ReportParked ReportOutcome = "parked"
)

// ReportResult is what recording one report did.
type ReportResult struct {
	ProviderMessageID string        `json:"messageId"`
	Outcome           ReportOutcome `json:"outcome"`
	// MessageID is the IMS message it applies to, when one has its id.
	MessageID string `json:"message_id,omitempty"`
}

// DeliveryReportDetails is the audit text of an applied report.
func DeliveryReportDetails(r DeliveryReport) string {
	s := string(r.Status) + " (" + r.Reported
	if r.ErrorCode != "" {
		s += ", error_code " + r.ErrorCode
	}
	return s + ", at " + r.At.Format(time.RFC3339Nano) + ")"
}

// DeliveryReportStore keeps delivery reports.
type DeliveryReportStore interface {
	// RecordDeliveryReports stores reports in one transaction and applies
	// each to the message whose provider id is exactly its
	// ProviderMessageID when it Supersedes the message's state, with a
	// message.delivery_report event. A report for an id no message has
	// is parked; the store applies it in the transaction that stores the
	// id on a message (the outcome of the send). Results are in input order.
	RecordDeliveryReports(ctx context.Context, reports []DeliveryReport, actor string) ([]ReportResult, error)
	// PurgeParkedReports deletes up to limit parked reports received
	// before cutoff that never met their message, and returns how many.
	PurgeParkedReports(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// MatchParkedReports applies reports received since since that are
	// still parked although a message has their provider id, and returns
	// how many messages changed. That happens only when a report's insert
	// and the send's outcome commit concurrently on PostgreSQL (read
	// committed: neither sees the other); the callback dispatcher runs it as
	// a safety net. SQLite serializes writers, so it finds nothing there.
	MatchParkedReports(ctx context.Context, since time.Time, limit int) (int, error)
}
