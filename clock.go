package ims

import "time"

// Clock tells the time. Production uses time.Now; tests inject a fixed clock.
type Clock func() time.Time
