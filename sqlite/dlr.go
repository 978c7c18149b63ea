package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/insiderone/ims"
)

// supersedesSQL is ims.DeliveryReport.Supersedes for the report ?1 (status)
// at ?2 against the messages row; see postgres/dlr.go.
const supersedesSQL = `(delivery_status = '' OR (delivery_status = '` + string(ims.DeliveryUndelivered) + `'
	AND (?1 = '` + string(ims.DeliveryDelivered) + `' OR delivery_reported_at IS NULL OR ?2 > delivery_reported_at)))`

// RecordDeliveryReports stores and applies reports in one transaction: the
// insert is the idempotency check, the report is tied to the message holding
// exactly its provider id or parked for the trigger messages_parked_reports
// (migration 00009), and the update applies it when it supersedes.
func (s *Store) RecordDeliveryReports(ctx context.Context, reports []ims.DeliveryReport, actor string) ([]ims.ReportResult, error) {
	results := make([]ims.ReportResult, len(reports))
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return eachRow(ctx, len(reports), func(ctx context.Context, i int) error {
			res, err := recordReport(ctx, tx, reports[i], actor, now)
			if err != nil {
				return fmt.Errorf("report for %q: %w", reports[i].ProviderMessageID, err)
			}
			results[i] = res
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery reports: %w", err)
	}
	return results, nil
}

func recordReport(ctx context.Context, tx *sql.Tx, r ims.DeliveryReport, actor string, now time.Time) (ims.ReportResult, error) {
	res := ims.ReportResult{ProviderMessageID: r.ProviderMessageID}
	var messageID sql.NullString
	err := tx.QueryRowContext(ctx, `INSERT INTO delivery_reports
		(provider_message_id, status, reported, error_code, reported_at, timestamped, received_at, message_id)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (`+messageByProviderIDSQL+`))
		ON CONFLICT DO NOTHING RETURNING message_id`,
		r.ProviderMessageID, string(r.Status), r.Reported, r.ErrorCode, micros(r.At), r.Timestamped, micros(now)).Scan(&messageID)
	if errors.Is(err, sql.ErrNoRows) {
		res.Outcome = ims.ReportDuplicate
		return res, nil
	} else if err != nil {
		return res, fmt.Errorf("insert: %w", err)
	}
	if !messageID.Valid {
		res.Outcome = ims.ReportParked
		return res, nil
	}
	res.MessageID = messageID.String
	var errorCode, deliveredAt any = r.ErrorCode, nil
	if r.Status == ims.DeliveryDelivered {
		errorCode, deliveredAt = "", micros(r.At)
	}
	upd, err := tx.ExecContext(ctx, `UPDATE messages SET delivery_status = ?1, delivered_at = ?3,
		delivery_error_code = ?4, delivery_reported_at = ?2, updated_at = ?5
		WHERE id = ?6 AND `+supersedesSQL, string(r.Status), micros(r.At), deliveredAt, errorCode, micros(now), messageID.String)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	if n, err := upd.RowsAffected(); err != nil {
		return res, fmt.Errorf("apply: %w", err)
	} else if n == 0 {
		res.Outcome = ims.ReportIgnored
		return res, nil
	}
	res.Outcome = ims.ReportApplied
	return res, insertAudit(ctx, tx, ims.EventMessageDeliveryReport, messageID.String, actor, ims.DeliveryReportDetails(r), now)
}

// PurgeParkedReports deletes parked reports received before cutoff.
func (s *Store) PurgeParkedReports(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	return s.deleteBatch(ctx, "parked reports", `DELETE FROM delivery_reports WHERE id IN (
		SELECT id FROM delivery_reports WHERE message_id IS NULL AND received_at < ? ORDER BY received_at LIMIT ?)`,
		micros(cutoff), limit)
}

// MatchParkedReports finds nothing on SQLite: its writers are serialized, so
// a report's insert and the send's outcome always see each other, and the
// trigger messages_parked_reports applies every report that waits.
func (s *Store) MatchParkedReports(context.Context, time.Time, int) (int, error) { return 0, nil }

// messageByProviderIDSQL finds the message a report with provider id ?1 is
// for, through providerIDIndex.
const messageByProviderIDSQL = `SELECT id FROM messages WHERE provider_message_id = ?1 AND provider_message_id <> '' ORDER BY id LIMIT 1`

// providerIDIndex is the index a delivery report finds its message by: the
// provider's message ID (migration 00009 creates it).
const providerIDIndex = "messages_provider_message_id"

// createProviderIDIndexSQL is migration 00009's definition of the index.
const createProviderIDIndexSQL = `CREATE INDEX IF NOT EXISTS ` + providerIDIndex + `
	ON messages (provider_message_id) WHERE provider_message_id <> ''`

// UseDeliveryReports tells the store whether delivery reports will be
// recorded (DLR_AUTH_KEY is set) and keeps the provider-ID index only while
// they will. It returns whether it built or dropped the index.
//
// The index is the most expensive write of a delivery on SQLite: providers'
// message IDs are random, so every sent outcome changes a leaf page of its
// own, which SQLite's log holds whole and the checkpoint writes again —
// about half the bytes SQLite writes per delivered message
// (docs/benchmarks.md, 2026-12-03 and 2026-12-04). Only a delivery report
// reads it (RecordDeliveryReports), and with reports off the endpoint
// answers 503 before reaching the store. Turning reports on builds the index
// from the stored IDs, so no report misses a message sent while they were
// off. A schema that follows a setting suits SQLite because one instance
// owns the file (README: SQLite is a single-machine database); PostgreSQL
// keeps the index always, since every instance of a fleet would have to
// agree on it. A later migration that changes the index must allow for its
// absence (DROP INDEX IF EXISTS) and update createProviderIDIndexSQL.
func (s *Store) UseDeliveryReports(ctx context.Context, enabled bool) (changed bool, err error) {
	has, err := s.hasIndex(ctx, providerIDIndex)
	if err != nil {
		return false, fmt.Errorf("provider-ID index: %w", err)
	}
	switch {
	case enabled && !has:
		_, err = s.write.ExecContext(ctx, createProviderIDIndexSQL)
	case !enabled && has:
		_, err = s.write.ExecContext(ctx, `DROP INDEX IF EXISTS `+providerIDIndex)
	default:
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("provider-ID index (delivery reports enabled: %t): %w", enabled, err)
	}
	return true, nil
}

func (s *Store) hasIndex(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up index %s: %w", name, err)
	}
	return n > 0, nil
}
