package client

import (
	"context"
	"net/http"
	"time"

	"github.com/insiderone/ims"
)

// DeliveryReport is one receipt as a provider posts it to IMS.
type DeliveryReport struct {
	MessageID string `json:"messageId"` // the provider's id
	Status    string `json:"status"`    // delivered, undelivered or failed
	ErrorCode string `json:"error_code,omitempty"`
	// Timestamp, when set, orders the report among others for the same id.
	Timestamp *time.Time `json:"timestamp,omitempty"`
}

// DeliveryReportResults is the answer to DeliveryReports.
type DeliveryReportResults struct {
	Reports []ims.ReportResult `json:"reports"`
	Applied int                `json:"applied"`
	Parked  int                `json:"parked"`
	Ignored int                `json:"ignored"`
}

// DeliveryReports posts reports as the provider would, authenticated with
// dlrKey (the server's DLR_AUTH_KEY, not the API key). All are validated
// before any is stored. Reports for provider ids no message has yet are
// parked (Parked counts them; the server answers 202).
func (c *Client) DeliveryReports(ctx context.Context, dlrKey string, reports []DeliveryReport) (DeliveryReportResults, error) {
	if reports == nil {
		reports = []DeliveryReport{}
	}
	var out DeliveryReportResults
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/delivery-reports", body: reports,
		header: http.Header{"X-Ins-Auth-Key": []string{dlrKey}}}, &out)
	return out, err
}
