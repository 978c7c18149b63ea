// Package client is the Go client of the IMS HTTP API: one method per route,
// typed requests and answers, and errors as *ims.Error.
//
// Typical use:
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithAPIKey(os.Getenv("API_KEY")))
//	if err != nil {
//		return err
//	}
//	res, err := c.CreateMessage(ctx, client.NewMessage{PhoneNumber: "+905551234567", Content: "Hello"}, "order-42")
//	if err != nil {
//		return err // an *ims.Error: ims.ErrorCode(err) is ims.EINVALID, ims.EUNAUTHORIZED, ...
//	}
//	fmt.Println(res.Message.ID, res.Message.Status, res.Created)
//
//	for m, err := range c.AllMessages(ctx, client.MessageFilter{Status: ims.StatusDead}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(m.ID, m.LastError)
//	}
//
// The answers reuse the root package's types (ims.Message, ims.Attempt,
// ims.AuditEvent, ims.SchedulerStatus, ims.MessagePage, ims.AuditPage) where
// the JSON is theirs; the client's own types cover what the API shapes
// differently: the create body (NewMessage), the batch answer, one message
// with its attempts (MessageDetail), the health report and the list filters.
//
// # Errors
//
// Any answer other than 2xx becomes an *ims.Error. Its Code comes back from
// the HTTP status (the inverse of http.ErrorStatusCode: 400, 413 and 422 are
// ims.EINVALID, 401 ims.EUNAUTHORIZED, 404 ims.ENOTFOUND, 409 ims.ECONFLICT,
// 503 ims.EUNAVAILABLE, 500 ims.EINTERNAL), its Message and Details from the
// body; validation details are a map[string]string of field → problem, as
// on the server. Transport failures are not *ims.Error: they wrap the cause
// (so errors.Is(err, context.DeadlineExceeded) works) with the method and the
// path. No error ever holds the API key.
//
// Every call takes a context, reads at most a few MiB of answer and drains
// and closes the body, so that connections are reused.
package client
