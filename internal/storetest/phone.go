package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
)

// testPhoneFilter is ListMessages' phone_number filter: exact match, with the
// status filter and the cursor.
func testPhoneFilter(t *testing.T, open Opener) {
	const other = "+14155550123"
	f := setup(t, open)
	var mine []ims.Message // to phone, oldest first
	for i := range 7 {
		nm := f.newMsg()
		if i%2 == 1 {
			nm.PhoneNumber = other
		}
		m := f.create(t, nm)
		if nm.PhoneNumber == phone {
			mine = append(mine, m)
		}
	}
	require.Len(t, mine, 4)
	canceled, err := f.s.CancelMessage(f.ctx, mine[1].ID, actor)
	require.NoError(t, err)

	tests := []struct {
		name   string
		filter ims.MessageFilter
		want   []string
	}{
		{"exact number, newest first", ims.MessageFilter{PhoneNumber: phone},
			reversed(ids(mine))},
		{"the other number", ims.MessageFilter{PhoneNumber: other, Limit: 10}, nil},
		{"with status", ims.MessageFilter{PhoneNumber: phone, Status: ims.StatusPending},
			[]string{mine[3].ID, mine[2].ID, mine[0].ID}},
		{"with status canceled", ims.MessageFilter{PhoneNumber: phone, Status: ims.StatusCanceled},
			[]string{canceled.ID}},
		{"no message to that number", ims.MessageFilter{PhoneNumber: "+447700900123"}, []string{}},
		{"a prefix is no match", ims.MessageFilter{PhoneNumber: phone[:len(phone)-1]}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.s.ListMessages(f.ctx, tt.filter)
			require.NoError(t, err)
			for _, m := range page.Messages {
				require.Equal(t, tt.filter.PhoneNumber, m.PhoneNumber)
			}
			if tt.want != nil {
				require.Equal(t, tt.want, ids(page.Messages))
			} else {
				require.Len(t, page.Messages, 3)
			}
			require.Empty(t, page.NextCursor)
		})
	}

	t.Run("pages by cursor", func(t *testing.T) {
		want := reversed(ids(mine))
		var got []string
		cursor := ""
		for range 3 {
			page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{PhoneNumber: phone, Before: cursor, Limit: 3})
			require.NoError(t, err)
			got = append(got, ids(page.Messages)...)
			cursor = page.NextCursor
			if cursor == "" {
				break
			}
		}
		require.Equal(t, want, got, "pages of 3 then 1, none from the other number")
		page, err := f.s.ListMessages(f.ctx, ims.MessageFilter{PhoneNumber: phone, Status: ims.StatusPending,
			Before: mine[3].ID, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{mine[2].ID}, ids(page.Messages), "status, phone and cursor together")
	})
	t.Run("not of E.164 shape is EINVALID", func(t *testing.T) {
		for _, bad := range []string{"905551234567", "+0123456789", "+1 415 555 0123", " 905551234567"} {
			_, err := f.s.ListMessages(f.ctx, ims.MessageFilter{PhoneNumber: bad})
			require.Equal(t, ims.EINVALID, ims.ErrorCode(err), "%q", bad)
		}
	})
}
