package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insiderone/ims"
)

// reportSQL records one delivery report and applies it. The insert is the
// idempotency check (a redelivered report hits delivery_reports_identity_idx
// and inserts nothing, so nothing else happens); the report is tied to the
// message holding exactly its provider id, if one does, and otherwise stays
// parked for the trigger messages_changed (migrations 00009, 00018). The
// UPDATE's condition is ims.DeliveryReport.Supersedes in SQL. Changing
// delivery_reported_at fires the callback trigger.
//
// $1 provider id, $2 delivery status, $3 reported status, $4 error code,
// $5 report time, $6 timestamped, $7 now, $8 event type, $9 actor, $10
// event details.
const reportSQL = `/* ims: record delivery report */
WITH ins AS (
	INSERT INTO delivery_reports (provider_message_id, status, reported, error_code, reported_at, timestamped, received_at, message_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7,
		(SELECT id FROM messages WHERE provider_message_id = $1 AND provider_message_id <> '' ORDER BY id LIMIT 1))
	ON CONFLICT DO NOTHING
	RETURNING message_id
),
upd AS (
	UPDATE messages m SET delivery_status = $2,
		delivered_at = CASE WHEN $2 = '` + string(ims.DeliveryDelivered) + `' THEN $5 END,
		delivery_error_code = CASE WHEN $2 = '` + string(ims.DeliveryDelivered) + `' THEN '' ELSE $4 END,
		delivery_reported_at = $5, updated_at = $7
	FROM ins
	WHERE m.id = ins.message_id AND ` + supersedesSQL + `
	RETURNING m.id
),
audit AS (
	INSERT INTO audit_events (type, message_id, actor, details, created_at)
	SELECT $8, id::text, $9, $10, $7 FROM upd
)
SELECT (SELECT count(*) FROM ins), coalesce((SELECT message_id::text FROM ins), ''), (SELECT count(*) FROM upd)`

// supersedesSQL is ims.DeliveryReport.Supersedes for the report $2 at $5
// against the message m.
const supersedesSQL = `(m.delivery_status = '' OR (m.delivery_status = '` + string(ims.DeliveryUndelivered) + `'
	AND ($2 = '` + string(ims.DeliveryDelivered) + `' OR m.delivery_reported_at IS NULL OR $5 > m.delivery_reported_at)))`

// RecordDeliveryReports stores and applies reports in one transaction.
func (s *Store) RecordDeliveryReports(ctx context.Context, reports []ims.DeliveryReport, actor string) (_ []ims.ReportResult, err error) {
	defer classify(&err)
	results := make([]ims.ReportResult, len(reports))
	now := s.now()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i, r := range reports {
			var inserted, updated int
			var messageID string
			if err := tx.QueryRow(ctx, reportSQL, r.ProviderMessageID, string(r.Status), r.Reported, r.ErrorCode,
				micro(r.At), r.Timestamped, now, ims.EventMessageDeliveryReport, actor,
				ims.DeliveryReportDetails(r)).Scan(&inserted, &messageID, &updated); err != nil {
				return fmt.Errorf("report for %q: %w", r.ProviderMessageID, err)
			}
			results[i] = reportResult(r, inserted, messageID, updated)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery reports: %w", err)
	}
	return results, nil
}

// reportResult names what recording one report did.
func reportResult(r ims.DeliveryReport, inserted int, messageID string, updated int) ims.ReportResult {
	res := ims.ReportResult{ProviderMessageID: r.ProviderMessageID, MessageID: messageID}
	switch {
	case inserted == 0:
		res.Outcome = ims.ReportDuplicate
	case messageID == "":
		res.Outcome = ims.ReportParked
	case updated > 0:
		res.Outcome = ims.ReportApplied
	default:
		res.Outcome = ims.ReportIgnored
	}
	return res
}

// PurgeParkedReports deletes parked reports received before cutoff.
func (s *Store) PurgeParkedReports(ctx context.Context, cutoff time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM delivery_reports WHERE id IN (
		SELECT id FROM delivery_reports WHERE message_id IS NULL AND received_at < $1 ORDER BY received_at LIMIT $2)`,
		micro(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("purge parked reports: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// matchParkedSQL hands every parked report whose provider id a message now
// holds to ims_apply_parked (migration 00009), the trigger's own function.
const matchParkedSQL = `/* ims: match parked reports */
SELECT count(*) FILTER (WHERE ims_apply_parked(p.id, p.provider_message_id, $1)) FROM (
	SELECT DISTINCT ON (r.provider_message_id) m.id, r.provider_message_id
	FROM delivery_reports r JOIN messages m ON m.provider_message_id = r.provider_message_id
	WHERE r.message_id IS NULL AND r.received_at >= $2 AND r.provider_message_id <> ''
	ORDER BY r.provider_message_id, m.id
	LIMIT $3
) p`

// MatchParkedReports applies parked reports that raced their message's send.
func (s *Store) MatchParkedReports(ctx context.Context, since time.Time, limit int) (_ int, err error) {
	defer classify(&err)
	if limit <= 0 {
		return 0, nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, matchParkedSQL, s.now(), micro(since), limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("match parked reports: %w", err)
	}
	return n, nil
}
