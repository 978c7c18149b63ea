package msgid_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims/internal/msgid"
)

func TestNewCarriesTheCreationTime(t *testing.T) {
	at := time.Date(2030, time.January, 2, 3, 4, 5, 123456789, time.UTC)
	var g msgid.Generator
	id, err := g.New(at)
	require.NoError(t, err)
	u, err := uuid.Parse(id)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), u.Version())
	require.Equal(t, uuid.RFC4122, u.Variant())
	sec, nsec := u.Time().UnixTime()
	require.Equal(t, at.Truncate(time.Millisecond), time.Unix(sec, nsec).UTC(), "the ID's timestamp is the creation time's millisecond")
	other, err := g.New(at)
	require.NoError(t, err)
	require.NotEqual(t, id, other, "two IDs of one millisecond differ")
}

func TestBoundSeparatesCreationTimes(t *testing.T) {
	cut := time.Date(2030, time.January, 2, 3, 4, 5, 500_000_000, time.UTC)
	tests := []struct {
		name      string
		createdAt time.Time
		below     bool
	}{
		{"an hour before", cut.Add(-time.Hour), true},
		{"the millisecond before", cut.Add(-time.Millisecond), true},
		{"the cut's own millisecond", cut, true},
		{"later in the cut's millisecond", cut.Add(999 * time.Microsecond), true},
		{"the next millisecond", cut.Add(time.Millisecond), false},
		{"a day after", cut.Add(24 * time.Hour), false},
	}
	bound := msgid.Bound(cut)
	boundUUID := uuid.MustParse(bound)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := msgid.Generator{}
			for range 50 {
				id, err := g.New(tt.createdAt)
				require.NoError(t, err)
				require.Equal(t, tt.below, id < bound, "text order (SQLite): %s vs %s", id, bound)
				u := uuid.MustParse(id)
				require.Equal(t, tt.below, string(u[:]) < string(boundUUID[:]), "byte order (PostgreSQL's uuid): %s vs %s", id, bound)
			}
		})
	}
}

func TestBoundClampsToTheUUIDRange(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"before 1970", time.Date(1960, time.January, 1, 0, 0, 0, 0, time.UTC), "00000000-0000-0000-0000-000000000000"},
		{"the zero time", time.Time{}, "00000000-0000-0000-0000-000000000000"},
		{"after the 48-bit range", time.Date(20000, time.January, 1, 0, 0, 0, 0, time.UTC), "ffffffff-ffff-0000-0000-000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, msgid.Bound(tt.at))
		})
	}
}

func TestIDsGrowInCreationOrder(t *testing.T) {
	at := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		step time.Duration
	}{
		{"many in one millisecond", 0},
		{"a microsecond apart", time.Microsecond},
		{"a millisecond apart", time.Millisecond},
		{"a clock that goes back", -time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g msgid.Generator
			prev := ""
			for i := range 10000 {
				id, err := g.New(at.Add(time.Duration(i) * tt.step))
				require.NoError(t, err)
				u := uuid.MustParse(id)
				require.Equal(t, uuid.Version(7), u.Version())
				require.Equal(t, uuid.RFC4122, u.Variant())
				require.Greater(t, id, prev, "IDs grow in text order, so in byte order too")
				prev = id
			}
		})
	}
}
