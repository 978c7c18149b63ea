package ims_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

func TestValidateDeliveryReports(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)
	tests := []struct {
		name     string
		in       []ims.DeliveryReportInput
		batch    bool
		want     []ims.DeliveryReport
		problems map[string]string // field → substring of the problem
	}{
		{
			name: "delivered with a timestamp",
			in:   []ims.DeliveryReportInput{{MessageID: ptr("p-1"), Status: ptr("delivered"), Timestamp: ptr("2026-03-04T05:00:00.5+01:00")}},
			want: []ims.DeliveryReport{{ProviderMessageID: "p-1", Status: ims.DeliveryDelivered, Reported: "delivered",
				At: time.Date(2026, 3, 4, 4, 0, 0, 500000000, time.UTC), Timestamped: true, ReceivedAt: now.Truncate(time.Microsecond)}},
		},
		{
			name: "failed is undelivered and keeps its code; no timestamp is now",
			in:   []ims.DeliveryReportInput{{MessageID: ptr("p-2"), Status: ptr("FAILED"), ErrorCode: ptr("EC21")}},
			want: []ims.DeliveryReport{{ProviderMessageID: "p-2", Status: ims.DeliveryUndelivered, Reported: "failed", ErrorCode: "EC21",
				At: now.Truncate(time.Microsecond), ReceivedAt: now.Truncate(time.Microsecond)}},
		},
		{
			name:     "one report: fields are named plainly",
			in:       []ims.DeliveryReportInput{{Status: ptr("read"), Timestamp: ptr("later")}},
			problems: map[string]string{"messageId": "is required", "status": "unknown status", "timestamp": "RFC 3339"},
		},
		{
			name: "a batch names the bad item and stores none",
			in: []ims.DeliveryReportInput{{MessageID: ptr("ok"), Status: ptr("delivered")},
				{MessageID: ptr("p"), Status: ptr("")}},
			batch:    true,
			problems: map[string]string{"reports[1].status": "is required"},
		},
		{
			name:     "control characters in the id",
			in:       []ims.DeliveryReportInput{{MessageID: ptr("a\x00b"), Status: ptr("delivered")}},
			problems: map[string]string{"messageId": ""},
		},
		{
			name:     "an array of one names its item too",
			in:       []ims.DeliveryReportInput{{MessageID: ptr("p"), Status: ptr("seen")}},
			batch:    true,
			problems: map[string]string{"reports[0].status": "unknown status"},
		},
		{name: "empty", in: nil, batch: true, problems: map[string]string{"reports": "1 to 1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ims.ValidateDeliveryReports(tt.in, tt.batch, now)
			if tt.problems == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.Equal(t, ims.EINVALID, ims.ErrorCode(err))
			details := err.(*ims.Error).Details.(map[string]string)
			require.Len(t, details, len(tt.problems), "details: %v", details)
			for field, sub := range tt.problems {
				require.Contains(t, details[field], sub)
			}
		})
	}
}

func TestDeliveryReportSupersedes(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	t2 := t1.Add(time.Second)
	rep := func(s ims.DeliveryStatus, at time.Time) ims.DeliveryReport {
		return ims.DeliveryReport{Status: s, At: at}
	}
	state := func(s ims.DeliveryStatus, at time.Time) ims.DeliveryState {
		return ims.DeliveryState{Status: s, ReportedAt: &at}
	}
	tests := []struct {
		name string
		r    ims.DeliveryReport
		cur  ims.DeliveryState
		want bool
	}{
		{"anything applies to no report", rep(ims.DeliveryUndelivered, t1), ims.DeliveryState{}, true},
		{"delivered is final against a newer undelivered", rep(ims.DeliveryUndelivered, t2), state(ims.DeliveryDelivered, t1), false},
		{"delivered is final against another delivered", rep(ims.DeliveryDelivered, t2), state(ims.DeliveryDelivered, t1), false},
		{"delivered replaces a newer undelivered", rep(ims.DeliveryDelivered, t1), state(ims.DeliveryUndelivered, t2), true},
		{"a newer undelivered replaces an older", rep(ims.DeliveryUndelivered, t2), state(ims.DeliveryUndelivered, t1), true},
		{"an older undelivered does not", rep(ims.DeliveryUndelivered, t1), state(ims.DeliveryUndelivered, t2), false},
		{"an equally old undelivered does not", rep(ims.DeliveryUndelivered, t1), state(ims.DeliveryUndelivered, t1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.r.Supersedes(tt.cur))
		})
	}
}

func TestParseDeliveryFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    ims.DeliveryStatus
		set     bool
		wantErr bool
	}{
		{"", "", false, false},
		{"none", ims.DeliveryNone, true, false},
		{"delivered", ims.DeliveryDelivered, true, false},
		{"undelivered", ims.DeliveryUndelivered, true, false},
		{"failed", "", false, true},
	}
	for _, tt := range tests {
		t.Run("value "+tt.in, func(t *testing.T) {
			t.Parallel()
			got, set, err := ims.ParseDeliveryFilter(tt.in)
			require.Equal(t, tt.wantErr, err != nil)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.set, set)
		})
	}
}
