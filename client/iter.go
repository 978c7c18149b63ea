package client

import (
	"context"
	"fmt"
	"iter"

	"github.com/insiderone/ims"
)

// AllMessages yields every message f selects, newest first, fetching page
// after page (f.Limit per request) as the loop goes on. Breaking out of the
// loop stops the fetching. A failed request is yielded once as the error, and
// ends the sequence. Use Status ims.StatusSent or ims.StatusDead for the sent
// and dead-letter lists.
func (c *Client) AllMessages(ctx context.Context, f MessageFilter) iter.Seq2[ims.Message, error] {
	return paginate(f.Cursor, func(cursor string) ([]ims.Message, string, error) {
		f.Cursor = cursor
		page, err := c.ListMessages(ctx, f)
		return page.Messages, page.NextCursor, err
	})
}

// AllAudit is AllMessages for audit events.
func (c *Client) AllAudit(ctx context.Context, f AuditFilter) iter.Seq2[ims.AuditEvent, error] {
	return paginate(f.Cursor, func(cursor string) ([]ims.AuditEvent, string, error) {
		f.Cursor = cursor
		page, err := c.ListAudit(ctx, f)
		return page.Events, page.NextCursor, err
	})
}

// paginate follows next cursors from cursor until a page has none.
func paginate[T any](cursor string, fetch func(cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if next == cursor {
				// A server that hands back the cursor it was given would
				// make this loop forever.
				yield(zero, fmt.Errorf("pagination: the server returned cursor %q again", next))
				return
			}
			cursor = next
		}
	}
}
