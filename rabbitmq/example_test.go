package rabbitmq_test

import (
	"context"
	"log"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/rabbitmq"
)

// The pacing leader publishes the claims it took in the database; every
// instance consumes them, checks them with RenewClaims, delivers, stores the
// outcome, and only then lets the entry be acknowledged by returning nil.
func Example() {
	ctx := context.Background()
	q, err := rabbitmq.New(ctx, rabbitmq.Config{URL: "amqp://guest:guest@127.0.0.1:5672/"})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = q.Close() }()

	// Leader: a nil error means the broker confirmed every claim; on an
	// error the claims go back to pending in the database.
	if err := q.Publish(ctx, []ims.Claim{{MessageID: "0193…", Attempt: 1}}); err != nil {
		log.Print(err)
	}

	// Every instance: blocks until ctx ends, reconnecting as needed.
	_ = q.Consume(ctx, func(ctx context.Context, c ims.Delivery) error {
		// check (or, redelivered, renew) the claim, call the webhook, record the outcome
		return nil
	})
}
