package sqlite

import "database/sql"

// Pools exposes the read and write pools to the external tests.
func Pools(s *Store) (read, write *sql.DB) { return s.read, s.write }

// WALAutocheckpointPages exposes the checkpoint interval to the external tests.
const WALAutocheckpointPages = walAutocheckpointPages

// QueryPlan and MessageByProviderIDSQL let the external tests check a
// report's lookup.
var QueryPlan = queryPlan

const MessageByProviderIDSQL = messageByProviderIDSQL
