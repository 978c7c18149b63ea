package http

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/insiderone/ims"
)

// DLRAuthHeader is the header a provider may send DLR_AUTH_KEY in (as IMS
// sends WEBHOOK_AUTH_KEY to it); Authorization works too.
const DLRAuthHeader = "x-ins-auth-key"

// deliveryReportsResponse answers POST /api/delivery-reports: one result
// per report, in order, and how many of each outcome.
type deliveryReportsResponse struct {
	Reports []ims.ReportResult `json:"reports"`
	Applied int                `json:"applied"`
	Parked  int                `json:"parked"`
	// Ignored counts duplicates and reports superseded by an earlier one.
	Ignored int `json:"ignored"`
}

// handleDeliveryReports takes one report or an array of them from the
// provider. It is off (503, so that a provider keeps retrying until it is
// configured, rather than dropping reports on a 404) while DLR_AUTH_KEY is
// unset. A bad report rejects the whole body (422) before anything is
// stored. A body with a report for an unknown provider id answers 202: the
// report is kept (parked) and applied if the id appears; otherwise 200.
func (s *Server) handleDeliveryReports(w http.ResponseWriter, r *http.Request) {
	if s.cfg.DLRAuthKey == "" || s.deps.Reports == nil {
		writeError(w, r, s.logger, ims.Errorf(ims.EUNAVAILABLE,
			"delivery reports are disabled on this server: set DLR_AUTH_KEY to enable POST /api/delivery-reports"))
		return
	}
	if err := s.checkDLRKey(r); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	items, batch, err := decodeReports(r)
	if err == nil {
		err = noQuery(r)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	reports, err := ims.ValidateDeliveryReports(items, batch, s.now())
	if err != nil {
		writeError(w, r, s.logger, unprocessable(err))
		return
	}
	results, err := s.deps.Reports.RecordDeliveryReports(r.Context(), reports, "dlr:"+RequestIDFromContext(r.Context()))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if s.deps.ObserveReports != nil {
		s.deps.ObserveReports(results)
	}
	out := deliveryReportsResponse{Reports: results}
	for _, res := range results {
		switch res.Outcome {
		case ims.ReportApplied:
			out.Applied++
		case ims.ReportParked:
			out.Parked++
		default:
			out.Ignored++
		}
	}
	status := http.StatusOK
	if out.Parked > 0 {
		status = http.StatusAccepted
	}
	writeJSON(w, r, s.logger, status, out)
}

// checkDLRKey accepts DLR_AUTH_KEY as "x-ins-auth-key: <key>",
// "Authorization: <key>" or "Authorization: Bearer <key>", compared in
// constant time over hashes (as the API key is).
func (s *Server) checkDLRKey(r *http.Request) error {
	key := strings.TrimSpace(r.Header.Get(DLRAuthHeader))
	if key == "" {
		key = strings.TrimSpace(r.Header.Get("Authorization"))
		if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
			key = strings.TrimSpace(key[7:])
		} else if strings.EqualFold(key, "bearer") {
			key = ""
		}
	}
	if key == "" {
		return ims.Errorf(ims.EUNAUTHORIZED,
			"missing delivery-report key: send DLR_AUTH_KEY as \"x-ins-auth-key: <key>\" or \"Authorization: Bearer <key>\"")
	}
	want := sha256.Sum256([]byte(s.cfg.DLRAuthKey))
	got := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ims.Errorf(ims.EUNAUTHORIZED, "invalid delivery-report key")
	}
	return nil
}

// decodeReports reads one report object or an array of them. Unknown
// fields are ignored, unlike the API's own bodies: providers add fields of
// their own to receipts, and a receipt must not be lost for that. batch
// tells that the body was an array.
func decodeReports(r *http.Request) (_ []ims.DeliveryReportInput, batch bool, err error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, false, bodyReadError(err)
	}
	if err := checkRawJSON(raw); err != nil {
		return nil, false, err
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, false, ims.Errorf(ims.EINVALID, "request body is empty: send a delivery report object or an array of them")
	}
	var items []ims.DeliveryReportInput
	var dst any = &items
	var one ims.DeliveryReportInput
	switch trimmed[0] {
	case '[':
	case '{':
		dst = &one
	default:
		return nil, false, ims.Errorf(ims.EINVALID, "request body must be a delivery report object or an array of them")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(dst); err != nil {
		return nil, false, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false, ims.Errorf(ims.EINVALID, "request body must hold a single JSON value")
	}
	if dst == &one {
		return []ims.DeliveryReportInput{one}, false, nil
	}
	return items, true, nil
}
