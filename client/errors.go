package client

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/insiderone/ims"
)

// errorBody is the body of every IMS error answer.
type errorBody struct {
	Error   string          `json:"error"`
	Details json.RawMessage `json:"details"`
}

// responseError turns a non-2xx answer into the *ims.Error the server had,
// as far as the wire shows it: the code comes back from the status, the
// message and details from the body. An answer that is not an IMS error
// (a proxy's HTML page, say) still gets a code from its status and a message
// that names the status.
func responseError(cl call, resp response) *ims.Error {
	code := codeForStatus(resp.status)
	var b errorBody
	if err := json.Unmarshal(resp.body, &b); err == nil && b.Error != "" {
		return &ims.Error{Code: code, Message: b.Error, Details: decodeDetails(b.Details)}
	}
	return &ims.Error{Code: code, Message: fmt.Sprintf("%s %s: HTTP %d %s with no IMS error in the body",
		cl.method, cl.path, resp.status, http.StatusText(resp.status))}
}

// decodeDetails gives validation details the type they had on the server,
// map[string]string (field → problem), so that code reading them works on
// both sides; any other shape stays as encoding/json decodes it.
func decodeDetails(raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err == nil {
		return fields
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return v
}

// codeForStatus is the inverse of http.ErrorStatusCode, widened to the
// statuses something between the client and IMS (a proxy, a load balancer)
// may answer with.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge,
		http.StatusMethodNotAllowed:
		return ims.EINVALID
	case http.StatusNotFound:
		return ims.ENOTFOUND
	case http.StatusConflict:
		return ims.ECONFLICT
	case http.StatusUnauthorized, http.StatusForbidden:
		return ims.EUNAUTHORIZED
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout,
		http.StatusTooManyRequests, http.StatusRequestTimeout:
		return ims.EUNAVAILABLE
	}
	if status >= 400 && status < 500 {
		return ims.EINVALID
	}
	return ims.EINTERNAL
}
